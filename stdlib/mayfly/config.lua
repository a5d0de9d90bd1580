-- config: values from the config folder (a ConfigMap), overridden by MAYFLY_CFG_<NAME>.
-- Values are strings (one file per key) or, from config.json, any JSON value. Tables come back
-- as fresh copies: a script may change its copy, and the next request sees the original.
-- The source is looked up at every read: a reload of the config folder replaces it.
-- The source comes from the host's internal modules (the chunk's second argument); run on its
-- own (tests/spec), the module finds it with require.
local _, internal = ...
internal = internal or require

local type, tonumber, tostring, pairs, error = type, tonumber, tostring, pairs, error
local string_upper, string_gsub, string_match, string_lower = string.upper, string.gsub,
  string.match, string.lower

local _M = { _VERSION = "0.1" }

local function override_name(name)
  return (string_gsub(string_upper(name), "[^%w]", "_"))
end

local function raw(name)
  if type(name) ~= "string" then
    error("config: name must be a string, got " .. type(name), 3)
  end
  local source = internal "mayfly._config_source"
  local v = source.overrides[override_name(name)]
  if v ~= nil then return v end
  return source.values[name]
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

function _M.get(name, default)
  local v = raw(name)
  if v == nil then return default end
  return copy(v)
end

function _M.number(name, default)
  local v = raw(name)
  if v == nil then return default end
  local n = tonumber(v)
  if n == nil then
    error("config '" .. name .. "': expected a number, got '" .. tostring(v) .. "'", 2)
  end
  return n
end

local truthy = { ["true"] = true, yes = true, on = true, ["1"] = true }
local falsy = { ["false"] = true, no = true, off = true, ["0"] = true }

function _M.bool(name, default)
  local v = raw(name)
  if v == nil then return default end
  if type(v) == "boolean" then return v end
  local s = string_lower(tostring(v))
  if truthy[s] then return true end
  if falsy[s] then return false end
  error("config '" .. name .. "': expected a boolean (true/false, yes/no, on/off, 1/0), got '"
    .. tostring(v) .. "'", 2)
end

local units = { ms = 0.001, s = 1, m = 60, h = 3600 }

-- A duration in seconds: "250ms", "5s", "2m", "1h"; a bare number is seconds.
function _M.duration(name, default)
  local v = raw(name)
  if v == nil then return default end
  if type(v) == "number" then return v end
  local num, unit = string_match(tostring(v), "^%s*([%d%.]+)%s*(%a*)%s*$")
  local n = tonumber(num)
  local scale = units[unit == "" and "s" or unit]
  if not n or not scale then
    error("config '" .. name .. "': expected a duration such as 500ms, 5s or 2m, got '"
      .. tostring(v) .. "'", 2)
  end
  return n * scale
end

function _M.all()
  local source = internal "mayfly._config_source"
  local t = copy(source.values)
  for k in pairs(source.values) do
    local o = source.overrides[override_name(k)]
    if o ~= nil then t[k] = o end
  end
  return t
end

return _M

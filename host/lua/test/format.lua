-- Values as assertion messages show them: "(number) 2", "(string) 'a'", tables laid out one key
-- per line with '*' marking the path to the first difference. Also the deep comparison that
-- finds that path.
local M = { table_depth = 3, formatters = {} } -- assert:add_formatter's, newest first

local function sort_keys(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    if ta == "number" then return true end
    if tb == "number" then return false end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function key_text(k)
  if type(k) == "string" then return k end
  return tostring(k)
end

local function scalar(v)
  if type(v) == "string" then return "'" .. v .. "'" end
  return tostring(v)
end

-- crumbs: the keys from the outer table down to the difference (crumbs[1] is outermost).
local function table_body(t, depth, crumbs, ci, seen)
  if seen[t] then return "{ ... cycle }" end
  if depth > M.table_depth then return "{ ... more }" end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  if #keys == 0 then return "{ }" end
  table.sort(keys, sort_keys)
  seen[t] = true
  local indent = string.rep(" ", depth * 2)
  local lines = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    local marked = crumbs and crumbs[ci] ~= nil and crumbs[ci] == k
    local prefix = marked and (indent:sub(2) .. "*") or indent
    local text
    if type(v) == "table" then
      text = table_body(v, depth + 1, marked and crumbs or nil, ci + 1, seen)
    else
      text = scalar(v)
    end
    lines[#lines + 1] = prefix .. "[" .. key_text(k) .. "] = " .. text
  end
  seen[t] = nil
  return "{\n" .. table.concat(lines, "\n") .. " }"
end

-- Fractions in full (0.1 shows as 0.10000000000000000555), so that two numbers that differ
-- never print the same.
function M.number(v)
  if v == math.floor(v) or v ~= v then return tostring(v) end
  return string.format("%.20g", v)
end

function M.value(v, crumbs)
  for _, f in ipairs(M.formatters) do
    local text = f(v)
    if text ~= nil then return text end
  end
  local t = type(v)
  if v == nil then return "(nil)" end
  if t == "table" then
    local mt = getmetatable(v)
    if mt and mt.__matcher then return "(matcher) " .. mt.__matcher(v) end
    if mt and mt.__values_list then
      local parts = {}
      for i = 1, v.n do parts[i] = M.value(v[i]) end
      return "(values list) (" .. table.concat(parts, ", ") .. ")"
    end
    return "(" .. tostring(v) .. ") " .. table_body(v, 1, crumbs, 1, {})
  end
  if t == "string" then return "(string) '" .. v .. "'" end
  if t == "number" then return "(number) " .. M.number(v) end
  if t == "boolean" then return "(boolean) " .. tostring(v) end
  return "(" .. tostring(v) .. ")"
end

-- A list of values printed as one: "(values list) ((number) 1, (string) 'a')".
M.values_mt = { __values_list = true }
function M.values(n, ...)
  return setmetatable({ n = n, ... }, M.values_mt)
end

-- Deep equality, metatables ignored (luassert's same). Returns equal, crumbs (outermost first).
function M.deep_equal(expected, actual, crumbs, seen)
  if type(expected) ~= "table" or type(actual) ~= "table" then
    return expected == actual, crumbs
  end
  if rawequal(expected, actual) then return true, crumbs end
  seen = seen or {}
  if seen[expected] == actual then return true, crumbs end
  seen[expected] = actual
  crumbs = crumbs or {}
  local depth = #crumbs + 1
  local keys = {}
  for k in pairs(expected) do keys[#keys + 1] = k end
  for k in pairs(actual) do
    if expected[k] == nil then keys[#keys + 1] = k end
  end
  table.sort(keys, sort_keys)
  for _, k in ipairs(keys) do
    crumbs[depth] = k
    local ok = M.deep_equal(expected[k], actual[k], crumbs, seen)
    if not ok then return false, crumbs end
    for i = depth, #crumbs do crumbs[i] = nil end
  end
  return true, crumbs
end

return M

-- Values as luassert's formatters show them in assertion messages: "(number) 2", "(string) 'a'",
-- tables laid out one key per line down to TableFormatLevel with '*' marking the path to the
-- first difference, matchers and argument lists. Also the deep comparison `same` makes, with
-- that path.
local util = require "test.util"
local state = require "test.state"

local M = {}

-- Numbers in full (0.1 shows as 0.10000000000000000555), so that two that differ never print
-- the same.
function M.number(v)
  if v ~= v then return "NaN" end
  if v == 1 / 0 then return "Inf" end
  if v == -1 / 0 then return "-Inf" end
  return string.format("%.20g", v)
end

local function tostr(v)
  if type(v) == "number" then return M.number(v) end
  return tostring(v)
end

local type_priorities = { number = 1, boolean = 2, string = 3, table = 4, ["function"] = 5,
  userdata = 6, thread = 7 }

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  local length = #t
  local function priority(k)
    if type(k) == "number" and k >= 1 and k <= length and math.floor(k) == k then return 0 end
    return type_priorities[type(k)] or 8
  end
  table.sort(keys, function(a, b)
    local pa, pb = priority(a), priority(b)
    if pa ~= pb then return pa < pb end
    local ta = type(a)
    if ta == "string" or ta == "number" then return a < b end
    if ta == "boolean" then return a end -- true before false
    return false
  end)
  return keys
end

-- TableErrorHighlightColor: "none", or lua-term colour names joined by dots ("bright.red").
local colour_codes = { reset = 0, clear = 0, default = 0, bright = 1, dim = 2, underscore = 4,
  blink = 5, reverse = 7, hidden = 8, black = 30, red = 31, green = 32, yellow = 33, blue = 34,
  magenta = 35, cyan = 36, white = 37, onblack = 40, onred = 41, ongreen = 42, onyellow = 43,
  onblue = 44, onmagenta = 45, oncyan = 46, onwhite = 47 }
local function paint(colour, text)
  if colour == nil or colour == "none" then return text end
  for name in tostring(colour):gmatch("[^%.]+") do
    local code = colour_codes[name]
    if not code then error("unknown colour '" .. name .. "'", 0) end
    text = "\27[" .. code .. "m" .. text .. "\27[0m"
  end
  return text
end

-- crumbs: the keys from the outer table down to the difference (crumbs[1] is outermost).
local function table_text(arg, crumbs)
  local cache = {}
  local depth = state.get_parameter("TableFormatLevel") -- (negative: no limit)
  local show_recursion = state.get_parameter("TableFormatShowRecursion")
  local errchar = state.get_parameter("TableErrorHighlightCharacter") or ""
  local colour = state.get_parameter("TableErrorHighlightColor")
  local function ft(t, l, with_crumbs)
    if show_recursion and cache[t] and cache[t] > 0 then return "{ ... recursive }" end
    if next(t) == nil then return "{ }" end
    if l > depth and depth >= 0 then return "{ ... more }" end
    -- (with no depth limit, a cycle still ends: luassert would overflow the stack there)
    if depth < 0 and cache[t] and cache[t] > 0 then return "{ ... recursive }" end
    local out = { "{" }
    cache[t] = (cache[t] or 0) + 1
    local crumb = crumbs and crumbs[l]
    for _, k in ipairs(sorted_keys(t)) do
      local v = t[k]
      local marked = with_crumbs and crumb ~= nil and k == crumb
      if type(v) == "table" then
        v = ft(v, l + 1, marked)
      elseif type(v) == "string" then
        v = "'" .. v .. "'"
      end
      local mark = marked and errchar or ""
      out[#out + 1] = string.format("\n%s%s[%s] = %s", string.rep(" ", l * 2 - #mark),
        mark == "" and "" or paint(colour, mark), tostr(k), tostr(v))
    end
    cache[t] = cache[t] - 1
    return table.concat(out) .. " }"
  end
  local desc
  local mt = getmetatable(arg)
  if mt == nil then
    desc = "(" .. tostring(arg) .. ") "
  elseif not pcall(setmetatable, arg, mt) then
    desc = "(table) " -- a protected metatable: no address to show
  else
    setmetatable(arg, nil)
    desc = "(" .. tostring(arg) .. ") "
    setmetatable(arg, mt)
  end
  return desc .. ft(arg, 1, true)
end

function M.value(v, crumbs)
  local inner_first
  if crumbs then
    inner_first = {}
    for i = #crumbs, 1, -1 do inner_first[#inner_first + 1] = crumbs[i] end
  end
  local text = state.format_argument(v, { crumbs = inner_first })
  if text ~= nil then return text end
  local t = type(v)
  if t == "string" then return "(string) '" .. v .. "'" end
  if t == "number" then return "(number) " .. M.number(v) end
  if t == "boolean" then return "(boolean) " .. tostring(v) end
  if v == nil then return "(nil)" end
  if t == "table" then
    local mt = getmetatable(v)
    if type(mt) ~= "table" then mt = nil end -- (a protected metatable shows something else)
    if mt and rawget(mt, "__matcher") then
      -- luassert cannot print match._ (it has no arguments) and raises instead, when a
      -- failed assertion's message shows it: kept here for the assertion to raise if it fails
      if v.arguments == nil then
        M.unprintable = "attempt to index field 'arguments' (a nil value)"
        return ""
      end
      local args = {}
      for i = 1, v.arguments and v.arguments.n or 0 do args[i] = M.value(v.arguments[i]) end
      return "(matcher) " .. (v.mod and "is." or "no.") .. tostring(v.name) .. "(" ..
          table.concat(args, ", ") .. ")"
    end
    if mt and rawget(mt, "__values_list") then
      local parts = {}
      for i = 1, v.n do parts[i] = M.value(v[i]) end
      return "(values list) (" .. table.concat(parts, ", ") .. ")"
    end
    return table_text(v, crumbs)
  end
  if t == "function" then
    local info = debug.getinfo(v)
    return string.format("%s @ line %s in %s", tostring(v), tostring(info.linedefined),
      tostring(info.source))
  end
  return "(" .. t .. ") '" .. tostring(v) .. "'"
end

-- A list of values printed as one: "(values list) ((number) 1, (string) 'a')".
M.values_mt = { __values_list = true }
function M.values(n, ...)
  return setmetatable({ n = n, ... }, M.values_mt)
end

-- luassert's same: deep equality, metatables ignored. Returns equal, crumbs (outermost first).
function M.deep_equal(expected, actual)
  local ok, inner_first = util.deepcompare(expected, actual, true)
  if ok then return true end
  local crumbs = {}
  for i = #(inner_first or {}), 1, -1 do crumbs[#crumbs + 1] = inner_first[i] end
  return false, crumbs
end

return M

-- Argument matchers as luassert's: match._ (anything), match.is_table(), match.is_same(v),
-- match.is_not_nil(), match.matches("^a"), match.is_ref(t), match.all_of/any_of/none_of(...).
-- A matcher is a callable table {name, mod, callback, arguments} (m(value) answers);
-- called_with and stubs' on_call_with apply it in place of a value (same and equal do not), and
-- a spy applies match.is_ref to the value a call was given, not to its copy.
local util = require "test.util"

local M = {}

local matcher_mt = {
  __matcher = true, -- test.format prints it as "(matcher) is.name(args)"
  __call = function(m, v) return m.callback(v) == m.mod end,
}

function M.is_matcher(v)
  return type(v) == "table" and getmetatable(v) == matcher_mt
end

function M.is_ref_matcher(v)
  return M.is_matcher(v) and v.name == "ref"
end

local builders = {} -- name -> function(state, arguments) returning a predicate

local function typed(t) return function() return function(v) return type(v) == t end end end
for _, t in ipairs({ "nil", "boolean", "number", "string", "table", "function", "userdata", "thread" }) do
  builders[t] = typed(t)
end
builders["true"] = function() return function(v) return v == true end end
builders["false"] = function() return function(v) return v == false end end
builders.truthy = function() return function(v) return v ~= false and v ~= nil end end
builders.falsy = function() return function(v) return v == false or v == nil end end
builders.equals = function(_, a)
  if a.n < 1 then error("the 'equals' matcher needs an argument", 4) end
  return function(v) return v == a[1] end
end
builders.equal = builders.equals
builders.ref = function(_, a)
  local t = type(a[1])
  if t ~= "table" and t ~= "function" and t ~= "userdata" and t ~= "thread" then
    error("bad argument #1 to 'ref' (object expected, got " .. t .. ")", 4)
  end
  return function(v) return v == a[1] end
end
builders.same = function(_, a)
  return function(v)
    if type(v) == "table" and type(a[1]) == "table" then return util.deepcompare(v, a[1], true) end
    return v == a[1]
  end
end
builders.unique = function(_, a)
  local deep = a[1]
  return function(list)
    for k, v in pairs(list) do
      for k2, v2 in pairs(list) do
        if k ~= k2 then
          if deep and util.deepcompare(v, v2, true) then return false end
          if v == v2 then return false end
        end
      end
    end
    return true
  end
end
builders.near = function(_, a)
  local expected, tolerance = tonumber(a[1]), tonumber(a[2])
  if not expected or not tolerance then error("the 'near' matcher needs two numbers", 4) end
  return function(v)
    local actual = tonumber(v)
    if not actual then return false end
    return actual >= expected - tolerance and actual <= expected + tolerance
  end
end
builders.matches = function(_, a)
  local pattern, init, plain = a[1], a[2], a[3]
  if type(pattern) ~= "string" then error("the 'matches' matcher needs a pattern (string)", 4) end
  return function(v)
    local t = type(v)
    local s
    if t == "string" or t == "number" or (t == "table" and (getmetatable(v) or {}).__tostring) then
      s = tostring(v)
    end
    if not s then return false end
    return s:find(pattern, init, plain) ~= nil
  end
end
builders.match = builders.matches
local function combine(all, none)
  return function(_, a)
    for i = 1, a.n do
      if not M.is_matcher(a[i]) then error("bad argument #" .. i .. ": expected a matcher", 4) end
    end
    return function(v)
      for i = 1, a.n do
        local ok = a[i](v)
        if all and not ok then return false end
        if none and ok then return false end
        if not all and not none and ok then return true end
      end
      return all or none or false
    end
  end
end
builders.all_of = combine(true, false)
builders.any_of = combine(false, false)
builders.none_of = combine(false, true)

local modifiers = { is = true, are = true, was = true, has = true, does = true, ["not"] = true, no = true }

-- assert:register("matcher", name, fn) with fn(state, arguments, level) returning a predicate.
function M._register(name, fn)
  builders[name:lower()] = function(state, a) return fn(state, a, 3) end
end

M._ = setmetatable({ mod = true, callback = function() return true end }, matcher_mt)

-- Splits a key into luassert's words, the longest known names first from the end (as
-- luassert's extract_keys), so that "is_not_all_of" is is, not, all_of.
local function words(key)
  local tokens = {}
  for t in key:lower():gmatch("[^_]+") do tokens[#tokens + 1] = t end
  local out, i = {}, #tokens
  local pending
  while i > 0 do
    pending = pending and (tokens[i] .. "_" .. pending) or tokens[i]
    local longer = i > 1 and (tokens[i - 1] .. "_" .. pending) or nil
    while i > 1 and longer and builders[longer] do
      pending = longer
      i = i - 1
      longer = i > 1 and (tokens[i - 1] .. "_" .. pending) or nil
    end
    if modifiers[pending] or builders[pending] then
      table.insert(out, 1, pending)
      pending = nil
    end
    i = i - 1
  end
  if pending then return nil, pending end
  return out
end

setmetatable(M, {
  __index = function(_, key)
    if type(key) ~= "string" then return nil end
    local ws, bad = words(key)
    if not ws then error("luassert: unknown modifier/matcher: '" .. bad .. "'", 2) end
    local name, mod = nil, true
    for _, w in ipairs(ws) do
      if builders[w] then name = w end
    end
    if not name then error("luassert: unknown matcher in '" .. key .. "'", 2) end
    for _, w in ipairs(ws) do
      if w == "not" or w == "no" then mod = not mod end
    end
    return function(...)
      local arguments = util.make_arglist(...)
      local callback = builders[name]({ mod = mod }, arguments)
      return setmetatable({ name = name, mod = mod, callback = callback, arguments = arguments },
        matcher_mt)
    end
  end,
})

return M

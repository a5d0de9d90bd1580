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

-- luassert checks a matcher's arguments with its assert: a failure at the spec's line
local function check(ok, key, args)
  if not ok then (require "test.assert").fail((require "test.say")(key, args), 4) end
end
local function at_least(name, n, a)
  check(a.n >= n, "assertion.internal.argtolittle", { name, n, tostring(a.n) })
end

local function typed(t) return function() return function(v) return type(v) == t end end end
for _, t in ipairs({ "nil", "boolean", "number", "string", "table", "function", "userdata", "thread" }) do
  builders[t] = typed(t)
end
builders["true"] = function() return function(v) return v == true end end
builders["false"] = function() return function(v) return v == false end end
builders.truthy = function() return function(v) return v ~= false and v ~= nil end end
builders.falsy = function() return function(v) return v == false or v == nil end end
builders.equals = function(_, a)
  at_least("equals", 1, a)
  return function(v) return v == a[1] end
end
builders.equal = builders.equals
builders.ref = function(_, a)
  local t = type(a[1])
  at_least("ref", 1, a)
  check(t == "table" or t == "function" or t == "userdata" or t == "thread",
    "assertion.internal.badargtype", { 1, "ref", "object", t })
  return function(v) return v == a[1] end
end
builders.same = function(_, a)
  at_least("same", 1, a)
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
  at_least("near", 2, a)
  local what = "number or object convertible to a number"
  check(expected, "assertion.internal.badargtype", { 1, "near", what, (require "test.format").value(a[1]) })
  check(tolerance, "assertion.internal.badargtype", { 2, "near", what, (require "test.format").value(a[2]) })
  return function(v)
    local actual = tonumber(v)
    if not actual then return false end
    return actual >= expected - tolerance and actual <= expected + tolerance
  end
end
builders.matches = function(_, a)
  local pattern, init, plain = a[1], a[2], a[3]
  at_least("matches", 1, a)
  check(type(pattern) == "string", "assertion.internal.badargtype", { 1, "matches", "string", type(a[1]) })
  check(init == nil or tonumber(init), "assertion.internal.badargtype", { 2, "matches", "number", type(a[2]) })
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
  local name = all and "all" or none and "none" or "any"
  return function(_, a)
    at_least(name, 1, a)
    for i = 1, a.n do
      check(M.is_matcher(a[i]), "assertion.internal.badargtype", { 1, name, "matcher", type(a[i]) })
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


-- luassert's match state: words gathered (match.is.Not.string) until a call makes the matcher.
local state_mt = {}
state_mt.__index = util.gather_words
state_mt.__call = function(self, ...)
  local keys = util.extract_keys(self.tokens, builders, modifiers, "modifier/matcher")
  self.tokens = {}
  local name
  for _, k in ipairs(keys) do
    if builders[k] then name = k end
  end
  if name then
    for _, k in ipairs(keys) do
      if k == "not" or k == "no" then self.mod = not self.mod end
    end
    local arguments = util.make_arglist(...)
    local callback = builders[name](self, arguments)
    return setmetatable({ name = name, mod = self.mod, callback = callback, arguments = arguments },
      matcher_mt)
  end
  return self
end

function M.state() return setmetatable({ mod = true, tokens = {} }, state_mt) end

setmetatable(M, {
  __index = function(self, key)
    if type(key) ~= "string" then return nil end
    return rawget(self, key) or M.state()[key]
  end,
})

return M

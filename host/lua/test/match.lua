-- Argument matchers: match._ (anything), match.is_table(), match.is_same(v), match.is_not_nil(),
-- match.matches("^a"), match.is_ref(t), match.all_of/any_of/none_of(...). A matcher is a
-- callable table (m(value) answers); called_with and stubs' on_call_with apply it in place of a
-- value, as luassert does (same and equal do not).
local M = {}

local matcher_mt = {
  __matcher = function(m) return m.name end,
  __tostring = function(m) return "matcher: " .. m.name end,
  __call = function(m, v) return m.fn(v) end,
}

-- ref: match.is_ref, which spies apply to the value a call was given, not to its copy.
local function new(name, fn, ref)
  return setmetatable({ name = name, fn = fn, ref = ref }, matcher_mt)
end

function M.is_matcher(v)
  return type(v) == "table" and getmetatable(v) == matcher_mt
end

local builders = {} -- name -> function(...) returning a predicate

local function typed(t) return function() return function(v) return type(v) == t end end end
for _, t in ipairs({ "nil", "boolean", "number", "string", "table", "function", "userdata", "thread" }) do
  builders[t] = typed(t)
end
builders["true"] = function() return function(v) return v == true end end
builders["false"] = function() return function(v) return v == false end end
builders.truthy = function() return function(v) return v ~= nil and v ~= false end end
builders.falsy = function() return function(v) return v == nil or v == false end end
builders.falsey = builders.falsy
builders.equal = function(e) return function(v) return v == e end end
builders.equals = builders.equal
builders.ref = function(e)
  local t = type(e)
  if t ~= "table" and t ~= "function" and t ~= "userdata" and t ~= "thread" then
    error("bad argument #1 to 'ref' (object expected, got " .. t .. ")", 3)
  end
  return function(v) return v == e end
end
builders.same = function(e)
  return function(v) return (require "test.util").deepcompare(e, v, true) end
end
builders.unique = function(deep)
  return function(v)
    if type(v) ~= "table" then return false end
    local fmt = require "test.format"
    for k1, v1 in pairs(v) do
      for k2, v2 in pairs(v) do
        if k1 ~= k2 and ((deep == false and v1 == v2) or (deep ~= false and fmt.deep_equal(v1, v2))) then
          return false
        end
      end
    end
    return true
  end
end
builders.near = function(e, tol) return function(v) return type(v) == "number" and v >= e - tol and v <= e + tol end end
builders.matches = function(p, init, plain)
  return function(v)
    if type(v) == "number" then v = tostring(v) end
    return type(v) == "string" and v:find(p, init, plain) ~= nil
  end
end
builders.match = builders.matches
local function combine(all, none)
  return function(...)
    local ms = { ... }
    return function(v)
      for _, m in ipairs(ms) do
        local ok = m.fn(v)
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

local noise = { is = true, are = true, has = true, was = true, does = true }
local negate = { ["not"] = true, no = true }

-- assert:register("matcher", name, fn) with fn(state, arguments) returning a predicate.
function M._register(name, fn)
  builders[name:lower()] = function(...)
    local args = { n = select("#", ...), ... }
    return fn({ mod = true }, args)
  end
end

M._ = new("_", function() return true end)

setmetatable(M, {
  __index = function(_, key)
    if type(key) ~= "string" then return nil end
    local parts = {}
    for p in key:lower():gmatch("[^_]+") do parts[#parts + 1] = p end
    local neg, i = false, 1
    while i <= #parts do
      if negate[parts[i]] then neg = not neg; i = i + 1
      elseif noise[parts[i]] and builders[table.concat(parts, "_", i)] == nil then i = i + 1
      else break end
    end
    local name = table.concat(parts, "_", i)
    local b = builders[name]
    if not b then error("luassert: unknown matcher '" .. key .. "'", 2) end
    return function(...)
      local pred = b(...)
      local args = {}
      for i = 1, select("#", ...) do args[i] = (require "test.format").value((select(i, ...))) end
      return new(key:gsub("_", ".") .. "(" .. table.concat(args, ", ") .. ")",
        neg and function(v) return not pred(v) end or pred, name == "ref")
    end
  end,
})

return M

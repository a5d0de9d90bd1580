-- The assertion vocabulary of luassert: assert.<modifiers>_<assertion>(...) with chained
-- modifiers (is, are, has, was, not, no, ...), custom messages, assert:register for new
-- assertions and modifiers. A failed assertion raises a failure object (core tells failures
-- from errors by it).
local format = require "test.format"
local say = require "test.say"
local match = require "test.match"
local spy = require "test.spy"
local util = require "test.util"

local unpack = unpack or table.unpack

local failure_mt = {}
failure_mt.__index = failure_mt
failure_mt.__tostring = function(f) return f.message end

local M = {}

local function fail(message, level)
  local info = debug.getinfo(level + 1, "Sl")
  local where = info and info.currentline and info.currentline > 0
      and (info.short_src .. ":" .. info.currentline .. ": ") or ""
  error(setmetatable({ message = where .. message }, failure_mt), 0)
end

-- busted.fail(msg, level): a failure raised at the caller's line.
function M.fail(message, level)
  fail(tostring(message), (level or 1) + 1)
end

function M.is_failure(e)
  return type(e) == "table" and getmetatable(e) == failure_mt
end

local modifiers = {}  -- name -> function(state, arg) or true for plain words
local assertions = {} -- name -> { fn = ..., nargs = ..., pos = key, neg = key, builtin = bool }

-- luassert's words, and no others: a spec that runs here must run under busted too.
for _, w in ipairs({ "is", "are", "was", "has", "does" }) do
  modifiers[w] = true
end
modifiers["not"] = function(state) state.mod = not state.mod end
modifiers["no"] = modifiers["not"]
modifiers["message"] = function(state, msg) state.failure_message = msg end
modifiers["spy"] = function(state, s) state.payload = s end
modifiers["stub"] = modifiers["spy"]
modifiers["array"] = modifiers["spy"]
-- Modifiers called with a value: assert.spy(s).was.called(), assert.array(t).has.holes().
local takes_arg = { message = true, spy = true, stub = true, array = true }

-- A built-in: fn(state, args) returns ok, text-if-failed-positively, text-if-failed-negatively.
local function builtin(names, nargs, fn)
  for name in names:gmatch("%S+") do
    assertions[name] = { fn = fn, nargs = nargs, builtin = true }
  end
end

local function ref(v) return format.value(v) end

builtin("same", 2, function(_, a)
  local ok, crumbs = format.deep_equal(a[1], a[2])
  local actual, expected = format.value(a[2], crumbs), format.value(a[1], crumbs)
  return ok,
      "Expected objects to be the same.\nPassed in:\n" .. actual .. "\nExpected:\n" .. expected,
      "Expected objects to not be the same.\nPassed in:\n" .. actual .. "\nDid not expect:\n" .. expected
end)

builtin("equal equals", 2, function(_, a)
  local ok = a[1] == a[2]
  return ok,
      "Expected objects to be equal.\nPassed in:\n" .. ref(a[2]) .. "\nExpected:\n" .. ref(a[1]),
      "Expected objects to not be equal.\nPassed in:\n" .. ref(a[2]) .. "\nDid not expect:\n" .. ref(a[1])
end)

-- unique(list[, deep][, message]) or unique(list, message, deep), as luassert reads them;
-- shallow unless deep.
builtin("unique", math.huge, function(state, a)
  local list, deep = a[1], nil
  if type(a[2]) == "boolean" or (a[2] == nil and a.n > 2) then
    deep = a[2]
    if a[3] ~= nil then state.failure_message = a[3] end
  else
    if type(a[3]) == "boolean" then deep = a[3] end
    if a[2] ~= nil then state.failure_message = a[2] end
  end
  local ok = true
  for k1, v1 in pairs(list) do
    for k2, v2 in pairs(list) do
      if k1 ~= k2 and ((deep and util.deepcompare(v1, v2, true)) or v1 == v2) then ok = false end
    end
  end
  return ok, "Expected object to be unique:\n" .. ref(list), "Expected object to not be unique:\n" .. ref(list)
end)

builtin("near", 3, function(_, a)
  local expected, actual, tol = a[1], a[2], a[3]
  if type(expected) ~= "number" or type(actual) ~= "number" or type(tol) ~= "number" then
    error("near: expected three numbers (expected, actual, tolerance)", 0)
  end
  local ok = actual >= expected - tol and actual <= expected + tol
  local passed = "\nPassed in:\n" .. ref(actual)
  local want = ref(expected) .. " +/- " .. tostring(tol) -- (luassert prints it unformatted)
  return ok, "Expected values to be near." .. passed .. "\nExpected:\n" .. want,
      "Expected values to not be near." .. passed .. "\nDid not expect:\n" .. want
end)

builtin("matches match", 4, function(_, a)
  local pattern, actual, init, plain = a[1], a[2], a[3], a[4]
  local s = type(actual) == "number" and tostring(actual) or actual
  local ok = type(s) == "string" and s:find(pattern, init, plain) ~= nil
  local passed = "\nPassed in:\n" .. ref(actual)
  return ok, "Expected strings to match." .. passed .. "\nExpected:\n" .. ref(pattern),
      "Expected strings not to match." .. passed .. "\nDid not expect:\n" .. ref(pattern)
end)

local function strip_position(e)
  if type(e) == "string" then
    return (e:gsub("^.-:%d+: ", "", 1))
  end
  return e
end

local function caught(fn, args, from)
  if type(fn) ~= "function" and not (type(fn) == "table" and getmetatable(fn) and getmetatable(fn).__call) then
    error("error: expected a function, got " .. type(fn), 0)
  end
  local ok, e = pcall(fn, unpack(args, from or 1, args.n))
  if M.is_failure(e) then e = e.message end
  return ok, e
end

builtin("error errors has_error", 2, function(state, a)
  local ok, e = caught(a[1], {})
  local expected = a[2]
  local matched
  if ok then
    matched = false
  elseif expected == nil then
    matched = true
  elseif type(expected) == "string" then
    matched = e == expected or strip_position(e) == expected
  else
    matched = format.deep_equal(expected, e)
  end
  if not state.mod and expected == nil then
    return matched, "", "Expected no error, but caught:\n" .. ref(strip_position(e))
  end
  return matched,
      "Expected a different error.\nCaught:\n" .. (ok and "(no error)" or ref(strip_position(e))) ..
          "\nExpected:\n" .. (expected == nil and "(error)" or ref(expected)),
      "Expected no error, but caught:\n" .. ref(strip_position(e))
end)

builtin("error_matches matches_error error_match match_error", 5, function(_, a)
  local ok, e = caught(a[1], {})
  local pattern, init, plain = a[2], a[3], a[4]
  -- The message without its position, as luassert matches it.
  local matched = not ok and type(e) == "string" and strip_position(e):find(pattern, init, plain) ~= nil
  local got = ok and "(no error)" or ref(strip_position(e))
  return matched,
      "Expected a different error.\nCaught:\n" .. got .. "\nExpected:\n" .. ref(pattern),
      "Expected an error not matching:\n" .. ref(pattern) .. "\nCaught:\n" .. got
end)

builtin("truthy", 1, function(_, a)
  return a[1] ~= nil and a[1] ~= false,
      "Expected to be truthy, but value was:\n" .. ref(a[1]),
      "Expected to not be truthy, but value was:\n" .. ref(a[1])
end)
builtin("falsy falsey", 1, function(_, a)
  return a[1] == nil or a[1] == false,
      "Expected to be falsy, but value was:\n" .. ref(a[1]),
      "Expected to not be falsy, but value was:\n" .. ref(a[1])
end)

local function same_as(expected)
  return function(_, a)
    local ok = a[1] == expected
    return ok,
        "Expected objects to be the same.\nPassed in:\n" .. ref(a[1]) .. "\nExpected:\n" .. ref(expected),
        "Expected objects to not be the same.\nPassed in:\n" .. ref(a[1]) .. "\nDid not expect:\n" .. ref(expected)
  end
end
builtin("true", 1, same_as(true))
builtin("false", 1, same_as(false))

for _, t in ipairs({ "nil", "boolean", "number", "string", "table", "function", "userdata", "thread" }) do
  builtin(t, 1, function(_, a)
    return type(a[1]) == t,
        "Expected objects to be the same.\nPassed in:\n" .. ref(a[1]) .. "\nExpected:\ntype " .. t,
        "Expected objects to not be the same.\nPassed in:\n" .. ref(a[1]) .. "\nDid not expect:\ntype " .. t
  end)
end

builtin("returned_arguments", math.huge, function(_, a)
  local expected = a.n - 1
  return a.n - 1 == a[1],
      "Expected to be called with " .. tostring(a[1]) .. " argument(s), but was called with " .. expected,
      "Expected not to be called with " .. tostring(a[1]) .. " argument(s), but was called with " .. expected
end)

builtin("holes", 1, function(state, a)
  local t = state.payload
  if type(t) ~= "table" then error("holes: use assert.array(t).has.holes()", 0) end
  local length = a[1]
  if length == nil then
    length = 0
    for k in pairs(t) do
      if type(k) == "number" and k > length and k == math.floor(k) then length = k end
    end
  end
  local hole
  for i = 1, length do
    if t[i] == nil then hole = i; break end
  end
  return hole ~= nil, "Expected array to have holes, but none was found.\n",
      "Expected array to not have holes, hole found at position: " .. ref(hole) .. "\n"
end)

-- ---- spies: the payload comes from assert.spy(s) / assert.stub(s), or the first argument ----

local function spy_of(state, a)
  local s = state.payload
  if s == nil then
    s = a[1]
    a = util.make_arglist(unpack(a, 2, a.n))
  end
  if type(s) ~= "table" or not s.calls then
    error("expected a spy or stub, got " .. type(s), 0)
  end
  return s, a
end

local function count_check(name, cmp, words)
  builtin(name, 1, function(state, a)
    local s
    s, a = spy_of(state, a)
    local n = #s.calls
    local want = a[1]
    if want == nil and name == "called" then
      -- called() is "at least once"; not.called() is "exactly 0 times", said positively.
      if state.mod then
        return n > 0, "Expected to be called >0 time(s), but was called " .. n .. " time(s)", ""
      end
      state.mod = true
      return n == 0, "Expected to be called 0 time(s), but was called " .. n .. " time(s)", ""
    end
    return cmp(n, want),
        "Expected to be called " .. words .. tostring(want) .. " time(s), but was called " .. n .. " time(s)",
        "Expected not to be called " .. (words == "" and "exactly " or words) .. tostring(want) ..
            " time(s), but it was."
  end)
end
count_check("called", function(n, w) return n == w end, "")
count_check("called_at_least", function(n, w) return n >= w end, "at least ")
count_check("called_at_most", function(n, w) return n <= w end, "at most ")
count_check("called_more_than", function(n, w) return n > w end, "more than ")
count_check("called_less_than", function(n, w) return n < w end, "less than ")

-- Any recorded call (or return) matching the arguments as luassert matches them (test.util);
-- the texts name the last one, or the last matching one when negated.
local function list_check(name, field, texts)
  builtin(name, math.huge, function(state, a)
    local s
    s, a = spy_of(state, a)
    local list = s[field]
    local expected = format.values(a.n, unpack(a, 1, a.n))
    local found = util.matchargs(list, util.make_arglist(unpack(a, 1, a.n)))
    local function show(call)
      if not call then return "(nil)" end
      return format.value(format.values(call.vals.n, unpack(call.vals, 1, call.vals.n)))
    end
    return found ~= nil,
        texts[1] .. show(list[#list]) .. "\nExpected:\n" .. format.value(expected),
        texts[2] .. show(found) .. "\nDid not expect:\n" .. format.value(expected)
  end)
end
list_check("called_with", "calls", {
  "Function was never called with matching arguments.\nCalled with (last call if any):\n",
  "Function was called with matching arguments at least once.\nCalled with (last matching call):\n" })
list_check("returned_with", "returnvals", {
  "Function never returned matching arguments.\nReturned (last call if any):\n",
  "Function returned matching arguments at least once.\nReturned (last matching call):\n" })

-- ---- the chain ----

local chain_mt = {}

local function run_assertion(state, name, a, level)
  local def = assertions[name]
  local ok, pos, neg
  format.unprintable = nil
  if def.builtin then
    if def.nargs ~= math.huge and a.n > def.nargs and type(a[a.n]) == "string"
        and state.failure_message == nil then
      state.failure_message = a[a.n]
      a[a.n] = nil
      a.n = a.n - 1
    end
    ok, pos, neg = def.fn(state, a)
  else
    ok = def.fn(state, a, level + 1)
    local args = {}
    for i = 1, a.n do args[i] = format.value(a[i]) end
    pos = say(def.pos, args) or ("Expected " .. name .. " to hold")
    neg = say(def.neg, args) or ("Expected " .. name .. " not to hold")
  end
  if (not not ok) ~= state.mod then
    if format.unprintable then error(format.unprintable, 0) end
    local text = state.mod and pos or neg
    if state.failure_message ~= nil then
      text = tostring(state.failure_message) .. "\n" .. text
    end
    fail(text, level + 1)
  end
  return M.assert
end

-- Splits key into known words (longest first, since assertion names hold underscores).
local function words(key)
  local parts = {}
  for p in key:lower():gmatch("[^_]+") do parts[#parts + 1] = p end
  local out, i = {}, 1
  while i <= #parts do
    local found
    for j = #parts, i, -1 do
      local w = table.concat(parts, "_", i, j)
      if assertions[w] or modifiers[w] ~= nil then found = j; out[#out + 1] = w; break end
    end
    if not found then return nil, parts[i] end
    i = found + 1
  end
  return out
end

chain_mt.__index = function(chain, key)
  local state = rawget(chain, "_state")
  local ws, bad = words(key)
  if not ws then error("luassert: unknown modifier or assertion: '" .. tostring(bad) .. "'", 2) end
  local newstate = { mod = state.mod, payload = state.payload, failure_message = state.failure_message }
  for i, w in ipairs(ws) do
    if assertions[w] then
      if i ~= #ws then error("luassert: '" .. w .. "' must be the last word of '" .. key .. "'", 2) end
      return function(...)
        local r = run_assertion(newstate, w, { n = select("#", ...), ... }, 2)
        return r -- not a tail call: the failure's position is the caller's line
      end
    end
    local m = modifiers[w]
    if type(m) == "function" then
      if i == #ws and takes_arg[w] then
        return function(arg)
          m(newstate, arg)
          return setmetatable({ _state = newstate }, chain_mt)
        end
      end
      m(newstate)
    end
  end
  return setmetatable({ _state = newstate }, chain_mt)
end

-- ---- the assert table ----

local assert_obj = setmetatable({}, {
  __index = function(_, key)
    if type(key) ~= "string" then return nil end
    local root = setmetatable({ _state = { mod = true } }, chain_mt)
    return chain_mt.__index(root, key)
  end,
  __call = function(_, ...)
    local v, msg = ...
    if not v then
      fail(msg ~= nil and tostring(msg) or "assertion failed!", 2)
    end
    return ...
  end,
})
M.assert = assert_obj

local methods = {}
function methods:register(kind, name, fn, pos, neg)
  if kind == "assertion" then
    assertions[name:lower()] = { fn = fn, pos = pos, neg = neg }
  elseif kind == "modifier" then
    takes_arg[name:lower()] = true
    modifiers[name:lower()] = function(state, arg)
      state.payload = arg
      fn(state, { n = 1, arg }, 2)
    end
  elseif kind == "matcher" then
    match._register(name, fn)
  else
    error("assert:register: unknown kind '" .. tostring(kind) .. "'", 2)
  end
end
function methods:unregister(kind, name)
  if kind == "assertion" then assertions[name:lower()] = nil
  elseif kind == "modifier" then modifiers[name:lower()] = nil end
end
local parameters = { TableFormatLevel = 3 }
function methods:set_parameter(name, value)
  parameters[name] = value
  if name == "TableFormatLevel" then format.table_depth = value end
end
function methods:get_parameter(name) return parameters[name] end
-- fn(value) returns the text for a value, or nil to leave it to the next formatter.
function methods:add_formatter(fn) table.insert(format.formatters, 1, fn) end
function methods:remove_formatter(fn)
  for i, f in ipairs(format.formatters) do
    if f == fn then table.remove(format.formatters, i); return end
  end
end
-- A snapshot's revert undoes the spies and stubs made since it was taken.
function methods:snapshot()
  local mark = spy._mark()
  return { revert = function() spy._revert_to(mark) end }
end
for k, f in pairs(methods) do rawset(assert_obj, k, f) end

return M

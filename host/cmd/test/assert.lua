-- The assertion vocabulary of luassert: assert.<modifiers>_<assertion>(...) with chained
-- modifiers (is, are, has, was, not, no, ...), custom messages, assert:register for new
-- assertions and modifiers. A failed assertion raises a failure object (core tells failures
-- from errors by it).
local format = require "test.format"
local say = require "test.say"
local match = require "test.match"
local spy = require "test.spy"
local util = require "test.util"
local astate = require "test.state"

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
-- A modifier is fn(state, arguments): arguments when it is called (assert.spy(s),
-- assert.message("m")), nil when it only precedes an assertion (assert.is_not.equal).
modifiers["not"] = function(state) state.mod = not state.mod end
modifiers["no"] = modifiers["not"]
modifiers["message"] = function(state, a) if a then state.failure_message = a[1] end end
modifiers["spy"] = function(state, a)
  if a then
    state.payload = a[1]
    if a[2] ~= nil then state.failure_message = a[2] end
  end
end
modifiers["stub"] = function(state, a)
  if a then
    state.payload = a[1]
    state.failure_message = a[2]
  end
end
modifiers["array"] = function(state, a) if a then state.payload = a[1] end end

-- A built-in: fn(state, args, level) returns ok, texts, retargs (see below).
local minimum = {} -- name -> { count, the name luassert's message gives }
local function builtin(names, nargs, fn, min, display)
  for name in names:gmatch("%S+") do
    assertions[name] = { fn = fn, nargs = nargs, builtin = true }
    if min then minimum[name] = { min, display or name } end
  end
end

local function ref(v) return format.value(v) end

local function hastostring(v)
  return type(v) == "string" or type((debug.getmetatable(v) or {}).__tostring) == "function"
end


-- Built-ins return ok, then a function giving the texts (a failed positive assertion's, a failed
-- negated one's) that only a failure calls, as luassert formats values only to report a failure
-- (a formatter a spec added is not called for assertions that hold), then what a holding
-- assertion returns when not its arguments.

builtin("same", 2, function(_, a)
  local ok, crumbs = format.deep_equal(a[1], a[2])
  return ok, function()
    local actual, expected = format.value(a[2], crumbs), format.value(a[1], crumbs)
    return "Expected objects to be the same.\nPassed in:\n" .. actual .. "\nExpected:\n" .. expected,
        "Expected objects to not be the same.\nPassed in:\n" .. actual .. "\nDid not expect:\n" .. expected
  end
end)

builtin("equal equals", 2, function(_, a)
  return a[1] == a[2], function()
    return "Expected objects to be equal.\nPassed in:\n" .. ref(a[2]) .. "\nExpected:\n" .. ref(a[1]),
        "Expected objects to not be equal.\nPassed in:\n" .. ref(a[2]) .. "\nDid not expect:\n" .. ref(a[1])
  end
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
  return ok, function()
    return "Expected object to be unique:\n" .. ref(list), "Expected object to not be unique:\n" .. ref(list)
  end
end)

builtin("near", 3, function(_, a, level)
  local expected, actual, tol = tonumber(a[1]), tonumber(a[2]), tonumber(a[3])
  for i, v in ipairs({ expected ~= nil, actual ~= nil, tol ~= nil }) do
    if not v then
      fail(say("assertion.internal.badargtype", { i, "near",
        "number or object convertible to a number", ref(a[i]) }), level + 1)
    end
  end
  return actual >= expected - tol and actual <= expected + tol, function()
    local passed = "\nPassed in:\n" .. ref(actual)
    local want = ref(expected) .. " +/- " .. tostring(tol) -- (luassert prints it unformatted)
    return "Expected values to be near." .. passed .. "\nExpected:\n" .. want,
        "Expected values to not be near." .. passed .. "\nDid not expect:\n" .. want
  end
end)

-- The message of matches/error_matches: the first argument from the third on that is neither
-- a boolean nor a number (init and plain are), taken out of the list.
local function take_match_message(state, a)
  for i = 3, a.n do
    if a[i] and type(a[i]) ~= "boolean" and not tonumber(a[i]) then
      state.failure_message = a[i]
      for j = i, a.n do a[j] = a[j + 1] end
      a.n = a.n - 1
      return
    end
  end
end

-- matches(pattern, actual[, init[, plain]][, message]), the message being the first later
-- argument that is neither a boolean nor a number; returns the captures.
builtin("matches match", math.huge, function(state, a, level)
  take_match_message(state, a)
  local pattern, actual, init, plain = a[1], a[2], a[3], a[4]
  local s
  if hastostring(actual) or type(actual) == "number" then s = tostring(actual) end
  if type(pattern) ~= "string" then
    fail(say("assertion.internal.badargtype", { 1, "matches", "string", type(pattern) }), level + 1)
  end
  if not s then
    fail(say("assertion.internal.badargtype", { 2, "matches", "string or object convertible to a string",
      ref(actual) }), level + 1)
  end
  local ok, retargs
  if plain then
    ok = s:find(pattern, init, plain) ~= nil
    retargs = ok and { pattern } or {}
  else
    retargs = { s:match(pattern, init) }
    ok = retargs[1] ~= nil
  end
  return ok, function()
    local passed = "\nPassed in:\n" .. ref(actual)
    return "Expected strings to match." .. passed .. "\nExpected:\n" .. ref(pattern),
        "Expected strings not to match." .. passed .. "\nDid not expect:\n" .. ref(pattern)
  end, retargs
end)

local function strip_position(e)
  if type(e) == "string" then return (e:gsub("^.-:%d+: ", "", 1)) end
  return e
end

-- What fn raised, as luassert's error assertions see it: a string without its position.
local function caught(fn, name, level)
  if not util.callable(fn) then
    fail(say("assertion.internal.badargtype", { 1, name, "function or callable object", type(fn) }),
      level + 1)
  end
  local ok, e = pcall(fn)
  return ok, strip_position(e)
end

-- has_error(fn[, expected[, message]]): an error, or one equal to expected (a string compares
-- with the error's text, a number with its number, anything else as `same`).
builtin("error errors has_error", math.huge, function(state, a, level)
  local expected = a[2]
  local ok, e = caught(a[1], "error", level + 1)
  local retargs = { n = a.n, e, unpack(a, 2, a.n) }
  if a[3] ~= nil then state.failure_message = a[3] end
  local shown = e
  local function texts()
    local got = ok and "(no error)" or ref(shown)
    return "Expected a different error.\nCaught:\n" .. got .. "\nExpected:\n" ..
        (expected == nil and "(error)" or ref(expected)), "Expected no error, but caught:\n" .. got
  end
  if ok or expected == nil then return not ok, texts, retargs end
  local result
  if type(expected) == "string" then
    if hastostring(e) then
      e = tostring(e)
      retargs[1] = e
    end
    if type(e) == "string" then result = expected == e end
  elseif type(expected) == "number" and type(e) == "string" then
    result = tostring(expected) == tostring(tonumber(e))
  end
  if result == nil then
    if type(expected) == "table" and type(e) == "table" then
      result = util.deepcompare(expected, e, true)
    else
      result = expected == e
    end
  end
  return result, texts, retargs
end)

-- error_matches(fn, pattern[, init[, plain]][, message]): an error whose text matches; returns
-- the captures.
builtin("error_matches matches_error error_match match_error", math.huge, function(state, a, level)
  local pattern = a[2]
  take_match_message(state, a)
  local init, plain = a[3], a[4]
  local ok, e = caught(a[1], "error_matches", level + 1)
  local retargs = { n = a.n, e, unpack(a, 2, a.n) }
  local shown = e
  local function texts()
    local got = ok and "(no error)" or ref(shown)
    return "Expected a different error.\nCaught:\n" .. got .. "\nExpected:\n" .. ref(pattern),
        "Expected no error, but caught:\n" .. got
  end
  if ok then return false, texts, retargs end
  if e == nil and pattern == nil then return true, texts, {} end
  if hastostring(e) or type(e) == "number" or type(e) == "boolean" then
    e = tostring(e)
    retargs[1] = e
  end
  if type(e) == "string" then
    local matched, captures
    if plain then
      captures = { pattern }
      matched = e:find(pattern, init, plain) ~= nil
    else
      captures = { e:match(pattern, init) }
      matched = captures[1] ~= nil
    end
    return matched, texts, matched and captures or retargs
  end
  return false, texts, retargs
end)

builtin("truthy", 1, function(_, a)
  return a[1] ~= nil and a[1] ~= false, function()
    return "Expected to be truthy, but value was:\n" .. ref(a[1]),
        "Expected to not be truthy, but value was:\n" .. ref(a[1])
  end
end)
builtin("falsy falsey", 1, function(_, a)
  return a[1] == nil or a[1] == false, function()
    return "Expected to be falsy, but value was:\n" .. ref(a[1]),
        "Expected to not be falsy, but value was:\n" .. ref(a[1])
  end
end)

local function same_as(expected)
  return function(_, a)
    return a[1] == expected, function()
      return "Expected objects to be the same.\nPassed in:\n" .. ref(a[1]) .. "\nExpected:\n" .. ref(expected),
          "Expected objects to not be the same.\nPassed in:\n" .. ref(a[1]) .. "\nDid not expect:\n" .. ref(expected)
    end
  end
end
builtin("true", 1, same_as(true))
builtin("false", 1, same_as(false))

for _, t in ipairs({ "nil", "boolean", "number", "string", "table", "function", "userdata", "thread" }) do
  builtin(t, 1, function(_, a)
    return type(a[1]) == t, function()
      return "Expected objects to be the same.\nPassed in:\n" .. ref(a[1]) .. "\nExpected:\ntype " .. t,
          "Expected objects to not be the same.\nPassed in:\n" .. ref(a[1]) .. "\nDid not expect:\ntype " .. t
    end
  end)
end

builtin("returned_arguments", math.huge, function(_, a)
  local expected = a.n - 1
  return a.n - 1 == a[1], function()
    return "Expected to be called with " .. tostring(a[1]) .. " argument(s), but was called with " .. expected,
        "Expected not to be called with " .. tostring(a[1]) .. " argument(s), but was called with " .. expected
  end
end)

builtin("holes", 1, function(state, a)
  local t = rawget(state, "payload")
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
  return hole ~= nil, function()
    return "Expected array to have holes, but none was found.\n",
        "Expected array to not have holes, hole found at position: " .. ref(hole) .. "\n"
  end
end)

-- ---- spies: the payload comes from assert.spy(s) / assert.stub(s), or the first argument ----

local function spy_of(state, a)
  local s = rawget(state, "payload")
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
        return n > 0, function()
          return "Expected to be called >0 time(s), but was called " .. n .. " time(s)", ""
        end
      end
      state.mod = true
      return n == 0, function()
        return "Expected to be called 0 time(s), but was called " .. n .. " time(s)", ""
      end
    end
    return cmp(n, want), function()
      return "Expected to be called " .. words .. tostring(want) .. " time(s), but was called " .. n .. " time(s)",
          "Expected not to be called " .. (words == "" and "exactly " or words) .. tostring(want) ..
              " time(s), but it was."
    end
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
    local found = util.matchargs(list, util.make_arglist(unpack(a, 1, a.n)))
    return found ~= nil, function()
      local expected = format.values(a.n, unpack(a, 1, a.n))
      local function show(call)
        if not call then return "(nil)" end
        return format.value(format.values(call.vals.n, unpack(call.vals, 1, call.vals.n)))
      end
      return texts[1] .. show(list[#list]) .. "\nExpected:\n" .. format.value(expected),
          texts[2] .. show(found) .. "\nDid not expect:\n" .. format.value(expected)
    end
  end)
end
list_check("called_with", "calls", {
  "Function was never called with matching arguments.\nCalled with (last call if any):\n",
  "Function was called with matching arguments at least once.\nCalled with (last matching call):\n" })
list_check("returned_with", "returnvals", {
  "Function never returned matching arguments.\nReturned (last call if any):\n",
  "Function returned matching arguments at least once.\nReturned (last matching call):\n" })

-- luassert's minimum argument counts (a failure under busted: luassert checks with its assert)
for names, m in pairs({ same = { 2, "same" }, ["equal equals"] = { 2, "equals" },
  near = { 3, "near" }, ["matches match"] = { 2, "matches" }, truthy = { 1, "truthy" },
  ["falsy falsey"] = { 1, "falsy" },
  ["error_matches matches_error error_match match_error"] = { 2, "error_matches" } }) do
  for name in names:gmatch("%S+") do minimum[name] = m end
end

-- ---- the chain: luassert's state, words gathered until a call ----

local function run_assertion(state, name, a, level)
  local def = assertions[name]
  local ok, pos, neg, retargs
  local given = { n = a.n, unpack(a, 1, a.n) } -- what a passing assertion returns
  if def.builtin then
    -- the argument after the assertion's own is its failure message, of any type
    if def.nargs ~= math.huge and a.n > def.nargs then
      if a[def.nargs + 1] ~= nil then state.failure_message = a[def.nargs + 1] end
      for i = def.nargs + 1, a.n do a[i] = nil end
      a.n = def.nargs
    end
    local m = minimum[name]
    if m and a.n < m[1] then
      fail(say("assertion.internal.argtolittle", { m[2], m[1], a.n }), level + 1)
    end
    local texts
    ok, texts, retargs = def.fn(state, a, level + 1)
    if (not not ok) ~= state.mod then
      format.unprintable = nil
      pos, neg = texts()
    end
  else
    ok, retargs = def.fn(state, a, level + 1)
  end
  if not def.builtin and (not not ok) ~= state.mod then
    -- worded as luassert words them: the arguments as the assertion left them (nofmt ones as
    -- they are), the message from say, else the failure message alone or "assertion failed!"
    format.unprintable = nil
    local args = { n = a.n }
    for i = 1, a.n do
      if a.nofmt and a.nofmt[i] then
        args[i] = a[i]
      else
        local fa = a.fmtargs and a.fmtargs[i]
        local crumbs
        if fa and fa.crumbs then
          crumbs = {}
          for j = #fa.crumbs, 1, -1 do crumbs[#crumbs + 1] = fa.crumbs[j] end
        end
        args[i] = format.value(a[i], crumbs)
      end
    end
    pos = def.pos and say(def.pos, args)
    neg = def.neg and say(def.neg, args)
  end
  if (not not ok) ~= state.mod then
    if format.unprintable then
      local unprintable = format.unprintable
      format.unprintable = nil
      error(unprintable, 0)
    end
    local text = state.mod and pos or neg
    local message = rawget(state, "failure_message")
    if message ~= nil and type(message) ~= "string" and not (getmetatable(message) or {}).__tostring then
      message = format.value(message)
    end
    if message ~= nil then
      text = text and (tostring(message) .. "\n" .. text) or tostring(message)
    end
    fail(text or "assertion failed!", level + 1)
  end
  if retargs then return unpack(retargs, 1, retargs.n or #retargs) end
  return unpack(given, 1, given.n)
end


local state_mt = {}
state_mt.__index = util.gather_words
state_mt.__call = function(self, ...)
  local keys = util.extract_keys(self.tokens, assertions, modifiers, "modifier/assertion")
  local name
  for _, k in ipairs(keys) do
    if assertions[k] then name = k end
  end
  local a = { n = select("#", ...), ... }
  if name then
    for _, k in ipairs(keys) do
      if type(modifiers[k]) == "function" then modifiers[k](self) end
    end
    -- not a tail call: the failure's position is the caller's line
    local r
    local function keep(...) r = { n = select("#", ...), ... } end
    keep(run_assertion(self, name, a, 2))
    return unpack(r, 1, r.n)
  end
  self.tokens = {}
  for _, k in ipairs(keys) do
    if type(modifiers[k]) == "function" then modifiers[k](self, a) end
  end
  return self
end

local function new_state() return setmetatable({ mod = true, tokens = {} }, state_mt) end

-- ---- the assert table ----

local level_mt = {}
local methods = {}

local assert_obj = setmetatable({}, {
  __index = function(_, key)
    if type(key) ~= "string" then return nil end
    return new_state()[key]
  end,
  -- assert(v, message[, assert:level(n)]): Lua's assert, raising a failure
  __call = function(self, ...)
    local v, msg, level = ...
    if not v then
      local lv = methods.get_level(self, level)
      fail(msg ~= nil and tostring(msg) or "assertion failed!", (lv or 1) + 1)
    end
    return ...
  end,
})
M.assert = assert_obj

function methods:register(kind, name, fn, pos, neg)
  if kind == "assertion" then
    assertions[name:lower()] = { fn = fn, pos = pos, neg = neg }
  elseif kind == "modifier" then
    modifiers[name:lower()] = function(state, a) fn(state, a, 3) end
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
function methods:set_parameter(name, value) astate.set_parameter(name, value) end
function methods:get_parameter(name) return astate.get_parameter(name) end
-- fn(value, fmtargs) returns the text for a value, or nil to leave it to the next formatter.
function methods:add_formatter(fn) astate.add_formatter(fn) end
function methods:remove_formatter(fn) astate.remove_formatter(fn) end
function methods:snapshot() return astate.snapshot() end
function methods:add_spy(s) astate.add_spy(s) end
function methods:state() return new_state() end
-- assert:format(args): the arguments as messages show them (nofmt ones left as they are).
function methods:format(args)
  local nofmt, fmtargs = args.nofmt or {}, args.fmtargs or {}
  format.unprintable = nil
  for i = 1, args.n or #args do
    if not nofmt[i] then
      local crumbs = fmtargs[i] and fmtargs[i].crumbs
      local outer
      if crumbs then
        outer = {}
        for j = #crumbs, 1, -1 do outer[#outer + 1] = crumbs[j] end
      end
      args[i] = format.value(args[i], outer)
    end
  end
  if format.unprintable then error(format.unprintable, 0) end
  return args
end
-- assert(v, message, assert:level(2)): the failure is placed that many levels up.
function methods:level(level) return setmetatable({ level = level }, level_mt) end
function methods:get_level(level)
  if getmetatable(level) ~= level_mt then return nil end
  return level.level
end
for k, f in pairs(methods) do rawset(assert_obj, k, f) end

return M

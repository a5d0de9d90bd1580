-- Spies, stubs and mocks as luassert 1.9 has them. A spy is a callable table recording each
-- call's arguments and results in s.calls / s.returnvals as {vals = copies, refs = the values}
-- (test.util says how they are kept and compared). As under busted, nothing is reverted behind
-- the spec's back: spy.on/stub replace a field until s:revert(), mock.revert(t) or an
-- assert:snapshot() being reverted.
local util = require "test.util"
local state = require "test.state"

local M = {}

local spy_mt = {
  __call = function(self, ...)
    self.calls[#self.calls + 1] = util.copyargs(util.make_arglist(...))
    local function results(...)
      self.returnvals[#self.returnvals + 1] = util.copyargs(util.make_arglist(...))
      return ...
    end
    return results(self.callback(...))
  end,
}


local function revert(self)
  if not self.reverted then
    if self.target_table and self.target_key then
      self.target_table[self.target_key] = self.callback
    end
    self.reverted = true
  end
  return self.callback
end

local function clear(self)
  self.calls = {}
  self.returnvals = {}
  return self
end

local function called(self, times, compare)
  if times or compare then
    compare = compare or function(count, expected) return count == expected end
    return compare(#self.calls, times), #self.calls
  end
  return #self.calls > 0, #self.calls
end

-- args: an arglist (with n). Returns whether a call matched, and the matching or last one.
local function list_with(list)
  return function(self, args)
    local last = #self[list] > 0 and self[list][#self[list]].vals or nil
    local found = util.matchargs(self[list], args)
    if found then return true, found.vals end
    return false, last
  end
end

function M.new(callback)
  callback = callback or function() end
  if not util.callable(callback) then
    error("Cannot spy on type '" .. type(callback) .. "', only on functions or callable elements", 2)
  end
  local s = setmetatable({
    calls = {},
    returnvals = {},
    callback = callback,
    revert = revert,
    clear = clear,
    called = called,
    called_with = list_with("calls"),
    returned_with = list_with("returnvals"),
  }, spy_mt)
  state.add_spy(s) -- an assert:snapshot() reverts it
  return s
end

function M.is_spy(v) return type(v) == "table" and getmetatable(v) == spy_mt end

function M.on(tbl, key)
  local s = M.new(tbl[key])
  tbl[key] = s
  s.target_table = tbl
  s.target_key = key
  return s
end

-- ---- stubs: a spy over a function that returns what it was told ----

local stub = {}

function stub.new(object, key, ...)
  if object == nil and key == nil then -- a blank stub
    object = {}
    key = ""
  end
  local return_values = util.pack(...)
  -- luassert checks these with its assert: a failure under busted, not an error
  local fail = (require "test.assert").fail
  if not (type(object) == "table" and key ~= nil) then
    fail("stub.new(): Can only create stub on a table key, call with 2 params; table, key", 2)
  end
  if not (object[key] == nil or util.callable(object[key])) then
    fail("stub.new(): The element for which to create a stub must either be callable, or be nil", 2)
  end
  local old = object[key]
  -- one callable value is the stub's body, anything else what it returns
  local fn = return_values.n == 1 and util.callable(return_values[1]) and return_values[1]
  local default = fn or function() return util.unpack(return_values) end
  local oncalls, callbacks = {}, {}
  object[key] = function(...)
    local rule = util.matchoncalls(oncalls, util.make_arglist(...))
    if rule then return callbacks[rule](...) end
    return default(...)
  end
  local s = M.on(object, key)
  local spy_revert = s.revert
  s.revert = function(self)
    if not self.reverted then
      spy_revert(self)
      object[key] = old
      self.reverted = true
    end
    return old
  end
  s.returns = function(...)
    local r = util.pack(...)
    default = function() return util.unpack(r) end
    return s
  end
  s.invokes = function(func)
    default = function(...) return func(...) end
    return s
  end
  s.by_default = { returns = s.returns, invokes = s.invokes }
  s.on_call_with = function(...)
    local rule = util.copyargs(util.make_arglist(...))
    return {
      returns = function(...)
        local r = util.pack(...)
        oncalls[#oncalls + 1] = rule
        callbacks[rule] = function() return util.unpack(r) end
        return s
      end,
      invokes = function(func)
        oncalls[#oncalls + 1] = rule
        callbacks[rule] = function(...) return func(...) end
        return s
      end,
    }
  end
  return s
end

function stub.is_stub(v) return M.is_spy(v) and v.returns ~= nil end
setmetatable(stub, { __call = function(_, ...) return stub.new(...) end })
M.stub = stub

-- ---- mocks: every function of a table (recursively) replaced by a spy or a stub ----

local function mock_apply(object, action)
  if type(object) ~= "table" then return end
  if M.is_spy(object) then return object[action](object) end
  for _, v in pairs(object) do mock_apply(v, action) end
  return object
end

local mock = {}
function mock.new(object, dostub, func, self, key)
  local visited = {}
  local function do_mock(obj, parent, k)
    if type(obj) == "table" then
      if M.is_spy(obj) or visited[obj] then return obj end
      visited[obj] = true
      for kk, v in pairs(obj) do obj[kk] = do_mock(v, obj, kk) end
      return obj
    elseif type(obj) == "function" then
      if dostub then return stub(parent, k, func) end
      if parent == nil then return M.new(obj) end
      return M.on(parent, k)
    end
    return obj
  end
  return do_mock(object, self, key)
end
function mock.clear(object) return mock_apply(object, "clear") end
function mock.revert(object) return mock_apply(object, "revert") end
setmetatable(mock, { __call = function(_, ...) return mock.new(...) end })
M.mock = mock

setmetatable(M, { __call = function(_, ...) return M.new(...) end })

return M

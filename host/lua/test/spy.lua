-- Spies, stubs and mocks as luassert has them. A spy is a callable table recording calls
-- (s.calls[i].vals) and results (s.returnvals[i].vals). As under busted, nothing is reverted
-- behind the spec's back: spy.on/stub replace a field until s:revert(), mock.revert(t) or an
-- assert:snapshot() being reverted.
local format = require "test.format"

local unpack = unpack or table.unpack
local function pack(...) return { n = select("#", ...), ... } end

local M = {}
local spy_mt = {}
spy_mt.__index = spy_mt

-- Spies that replaced a field, in order, for assert:snapshot().
local installed = {}
function M._mark() return #installed end
function M._revert_to(mark)
  for i = #installed, mark + 1, -1 do
    installed[i]:revert()
    installed[i] = nil
  end
end

local function deep_copy(v, seen)
  if type(v) ~= "table" then return v end
  if seen[v] then return seen[v] end
  local c = {}
  seen[v] = c
  for k, x in pairs(v) do c[deep_copy(k, seen)] = deep_copy(x, seen) end
  return c
end

-- vals: the values as they were at the call (tables copied, so later changes to them do not
-- change what called_with sees, as luassert); refs: the values themselves.
local function record(...)
  local refs = pack(...)
  local vals = { n = refs.n }
  for i = 1, refs.n do vals[i] = deep_copy(refs[i], {}) end
  return { vals = vals, refs = refs }
end

spy_mt.__call = function(self, ...)
  self.calls[#self.calls + 1] = record(...)
  local results = pack(self.callback(...))
  self.returnvals[#self.returnvals + 1] = record(unpack(results, 1, results.n))
  return unpack(results, 1, results.n)
end

local function args_match(expected, vals)
  if expected.n ~= vals.n then return false end
  for i = 1, expected.n do
    if not format.deep_equal(expected[i], vals[i]) then return false end
  end
  return true
end

function spy_mt:called(n)
  if n == nil then return #self.calls > 0 end
  return #self.calls == n
end
function spy_mt:called_with(...)
  local want = pack(...)
  for _, c in ipairs(self.calls) do
    if args_match(want, c.vals) then return true end
  end
  return false
end
function spy_mt:returned_with(...)
  local want = pack(...)
  for _, r in ipairs(self.returnvals) do
    if args_match(want, r.vals) then return true end
  end
  return false
end
function spy_mt:clear()
  self.calls, self.returnvals = {}, {}
  return self
end
function spy_mt:revert()
  if not self.reverted then
    if self.target_table ~= nil then self.target_table[self.target_key] = self.original end
    self.reverted = true
  end
  return self.original
end

function M.new(callback)
  if callback ~= nil and type(callback) ~= "function" and
      not (type(callback) == "table" and getmetatable(callback) and getmetatable(callback).__call) then
    error("spy.new: expected a function, got " .. type(callback), 2)
  end
  return setmetatable({ calls = {}, returnvals = {}, callback = callback or function() end }, spy_mt)
end

function M.is_spy(v) return type(v) == "table" and getmetatable(v) == spy_mt end

local function install(s, tbl, key)
  s.target_table, s.target_key, s.original = tbl, key, tbl[key]
  tbl[key] = s
  installed[#installed + 1] = s
  return s
end

-- Wraps tbl[key], even a spy already there (whose calls then go on being recorded too).
function M.on(tbl, key)
  if type(tbl) ~= "table" then error("spy.on: expected a table, got " .. type(tbl), 2) end
  return install(M.new(tbl[key]), tbl, key)
end

-- ---- stubs: a spy over a function that returns what it was told ----

local stub = {}

local function make_stub(tbl, key, ...)
  local results = pack(...)
  local s
  local rules = {} -- { args = packed, results = packed or invokes = fn }
  s = M.new(function(...)
    local args = pack(...)
    for i = #rules, 1, -1 do
      local r = rules[i]
      if args_match(r.args, args) then
        if r.invokes then return r.invokes(...) end
        return unpack(r.results, 1, r.results.n)
      end
    end
    if s.invoke_fn then return s.invoke_fn(...) end
    return unpack(results, 1, results.n)
  end)
  -- s.returns(...) and s:returns(...) both work: a call on the stub itself drops it.
  local function drop_self(first, ...)
    if first == s then return ... end
    return first, ...
  end
  s.returns = function(...) results = pack(drop_self(...)); s.invoke_fn = nil; return s end
  s.invokes = function(...) s.invoke_fn = drop_self(...); return s end
  s.on_call_with = function(...)
    local rule = { args = pack(drop_self(...)) }
    rules[#rules + 1] = rule
    return {
      returns = function(...) rule.results = pack(...); return s end,
      invokes = function(fn) rule.invokes = fn; return s end,
    }
  end
  s.by_default = s
  if tbl ~= nil then
    if type(tbl) ~= "table" then error("stub: expected a table, got " .. type(tbl), 3) end
    install(s, tbl, key)
  end
  return s
end

function stub.new(tbl, key, ...) return make_stub(tbl, key, ...) end
function stub.is_stub(v) return M.is_spy(v) and v.returns ~= nil end
setmetatable(stub, { __call = function(_, tbl, key, ...) return make_stub(tbl, key, ...) end })
M.stub = stub

-- ---- mocks: every function of a table (recursively) replaced by a spy or a stub ----

local mock = {}
local function walk(tbl, stubbed, seen)
  if seen[tbl] then return end
  seen[tbl] = true
  local keys = {}
  for k in pairs(tbl) do keys[#keys + 1] = k end
  for _, k in ipairs(keys) do
    local v = tbl[k]
    if type(v) == "function" or M.is_spy(v) then
      if not M.is_spy(v) then
        if stubbed then make_stub(tbl, k) else M.on(tbl, k) end
      end
    elseif type(v) == "table" then
      walk(v, stubbed, seen)
    end
  end
end
function mock.new(tbl, stubbed)
  walk(tbl, stubbed, {})
  return tbl
end
function mock.revert(tbl, seen)
  seen = seen or {}
  if seen[tbl] then return end
  seen[tbl] = true
  for _, v in pairs(tbl) do
    if M.is_spy(v) then v:revert()
    elseif type(v) == "table" then mock.revert(v, seen) end
  end
end
setmetatable(mock, { __call = function(_, tbl, stubbed) return mock.new(tbl, stubbed) end })
M.mock = mock

setmetatable(M, { __call = function(_, callback) return M.new(callback) end })

return M

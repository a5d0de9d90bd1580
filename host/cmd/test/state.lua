-- luassert's engine state: a chain of snapshots, each holding the formatters, parameters and
-- spies added while it was the newest. assert:snapshot() starts one; its revert() reverts the
-- spies and stubs made since and drops the formatters and parameters set since (and those of any
-- later snapshot).
local M = {}

local snapshot_mt = { __call = function(self) self:revert() end }
local NIL = {} -- a parameter set to nil

local current

function M.revert(self)
  if not self then
    self = current
    if not self.previous then return end -- the first state is never reverted
  end
  if getmetatable(self) ~= snapshot_mt then error("Value provided is not a valid snapshot", 2) end
  if self.next then self.next:revert() end
  self.formatters = {}
  self.parameters = {}
  for s in pairs(self.spies) do
    self.spies[s] = nil
    s:revert()
  end
  setmetatable(self, nil)
  current = self.previous
  current.next = nil
end

function M.snapshot()
  local new = setmetatable({ formatters = {}, parameters = {},
    spies = setmetatable({}, { __mode = "kv" }), previous = current, revert = M.revert }, snapshot_mt)
  if current then current.next = new end
  current = new
  return current
end

function M.add_formatter(fn) table.insert(current.formatters, 1, fn) end

function M.remove_formatter(fn, s)
  s = s or current
  for i, f in ipairs(s.formatters) do
    if f == fn then
      table.remove(s.formatters, i)
      return
    end
  end
  if s.previous then M.remove_formatter(fn, s.previous) end
end

-- The text the spec's own formatters give for v, newest first, or nil.
function M.format_argument(v, fmtargs)
  local s = current
  while s do
    for _, f in ipairs(s.formatters) do
      local text = f(v, fmtargs)
      if text ~= nil then return text end
    end
    s = s.previous
  end
  return nil
end

function M.set_parameter(name, value)
  if value == nil then value = NIL end
  current.parameters[name] = value
end

function M.get_parameter(name)
  local s = current
  while s do
    local v = s.parameters[name]
    if v ~= nil then
      if v == NIL then return nil end
      return v
    end
    s = s.previous
  end
  return nil
end

function M.add_spy(s) current.spies[s] = true end

M.snapshot()
M.set_parameter("TableFormatLevel", 3)
M.set_parameter("TableFormatShowRecursion", false)
M.set_parameter("TableErrorHighlightCharacter", "*")
M.set_parameter("TableErrorHighlightColor", "none")

return M

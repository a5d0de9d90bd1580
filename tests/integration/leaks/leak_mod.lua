-- A module (no route keys) with a module table and module-level locals, for module_table.
local M = { count = 0, list = {}, settings = { mode = "default" } }

local calls = 0
local cache = {}

function M.bump()
  calls = calls + 1
  return calls
end

function M.remember(k, v) cache[k] = v end

function M.recall(k) return cache[k] end

return M

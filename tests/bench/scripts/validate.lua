-- A user module: input checks.
local M = {}

function M.id(s)
  if type(s) == "string" and #s <= 20 and s:match("^%d+$") then return s end
  return nil
end

function M.name(s)
  return type(s) == "string" and #s > 0 and #s <= 100
end

return M

-- A user module: response shapes.
local M = {}

function M.ok(data, status)
  return { status = status or 200, json = { data = data } }
end

function M.error(status, message)
  return { status = status, json = { error = message } }
end

return M

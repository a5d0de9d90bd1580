-- The response harness's handler: builds the value it returns from the request body, a small
-- program of one-byte operations, so that the host's conversion of a handler's result (status,
-- body, json=, headers) meets every shape a handler can return: wrong types, NaN and huge
-- numbers, nested and cyclic tables, metatables that raise, reserved and invalid header names.
local words = { "status", "headers", "body", "json", "content-type", "Content-Length",
  "Transfer-Encoding", "x-a", "set-cookie", "", "bad name", "x\r\ny", "\0", "ok\tvalue" }
local numbers = { 0, 1, -1, 200, 204, 304, 404, 599, 600, 199, 200.5, 0 / 0, 1 / 0, -1 / 0,
  2 ^ 31, -2 ^ 31, 2 ^ 32 + 200, 2 ^ 53, 2 ^ 63, 1e300, -1e300, 4.9e-324 }

local function build(s)
  local pos, tables = 0, {}
  local function byte()
    pos = pos + 1
    return s:byte(pos) or 0
  end
  local value
  local function table_of(depth, array)
    local t = {}
    tables[#tables + 1] = t
    for i = 1, byte() % 6 do
      if array then t[i] = value(depth + 1) else
        local k = value(depth + 1)
        if k ~= nil and k == k then t[k] = value(depth + 1) end
      end
    end
    return t
  end
  value = function(depth)
    if pos >= #s or depth > 8 then return nil end
    local op = byte() % 12
    if op == 0 then return nil
    elseif op == 1 then return byte() % 2 == 0
    elseif op == 2 then return numbers[byte() % #numbers + 1]
    elseif op == 3 then
      local n = byte() % 24
      local str = s:sub(pos + 1, pos + n)
      pos = pos + n
      return str
    elseif op == 4 then return words[byte() % #words + 1]
    elseif op == 5 then return table_of(depth, false)
    elseif op == 6 then return table_of(depth, true)
    elseif op == 7 then -- an earlier table again: shared and cyclic structures
      return tables[byte() % (#tables + 1)] or {}
    elseif op == 8 then
      return setmetatable({}, { __index = function(_, k) error("no field " .. tostring(k)) end })
    elseif op == 9 then
      return setmetatable({}, { __index = value(depth + 1) })
    elseif op == 10 then return redis.null
    else return print end
  end
  return value(0)
end

return {
  ["POST /value"] = function(req)
    return build(req.body)
  end,
}

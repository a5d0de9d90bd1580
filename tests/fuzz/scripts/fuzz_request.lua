-- The request harness's handlers: read every field of the request object (each one is built
-- from the raw request on first access) and send them back, so that the query parser, the
-- header table, percent-decoding of params, the request id, the trace context and req:json()
-- all see the fuzzed bytes, and the response conversion sees what they made.
local function read_all(req)
  local ok, body = pcall(req.json, req)
  return {
    method = req.method, path = req.path, id = req.id, body = req.body,
    query = req.query, headers = req.headers, params = req.params,
    trace = req.trace, remote_addr = req.remote_addr, json_ok = ok, json = body,
  }
end

return {
  ["GET /r/:a/:b/*"] = function(req)
    local t = read_all(req)
    return { json = t, headers = { ["x-request-id"] = req.id, traceparent = req.trace.traceparent } }
  end,
  ["GET /*"] = function(req)
    local t = read_all(req)
    -- Through the text path too: every value concatenated into one body.
    local parts = {}
    for k, v in pairs(t.query) do
      parts[#parts + 1] = k .. "=" .. (type(v) == "table" and table.concat(v, ",") or tostring(v))
    end
    for k, v in pairs(t.headers) do parts[#parts + 1] = k .. ": " .. v end
    return table.concat(parts, "\n")
  end,
  -- req:json() raising its 400 out of the handler.
  ["POST /json"] = function(req)
    return { json = { got = req:json() } }
  end,
}

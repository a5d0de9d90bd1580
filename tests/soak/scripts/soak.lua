-- The soak's routes: hello, a Redis route, a JSON POST; every other path is a 404. The version
-- tag is rewritten by soak.sh on every reload (two versions, alternating).
local json = require "mayfly.json"
local version = "v1"

return {
  ["GET /hello"] = function(req)
    return "hello " .. (req.query.name or "world") .. " from " .. version
  end,
  ["GET /count/:key"] = function(req)
    local n = redis.call("INCR", "soak:" .. req.params.key)
    return { json = { key = req.params.key, n = n, version = version } }
  end,
  ["POST /echo"] = function(req)
    local body = req:json()
    body.version = version
    body.id = req.id
    return { status = 201, json = body, headers = { ["x-version"] = version } }
  end,
}

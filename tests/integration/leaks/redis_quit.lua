-- The Redis connection a worker keeps between requests: QUIT and CLIENT KILL of itself; a later
-- request must not inherit the dead connection.
local lk = require "lk"
local rd = require "leak_redis"
local MARK = lk.marker("redis_quit")

return {
  ["GET /redis_quit/plant"] = function(req)
    local out = {}
    if not rd.configured() then return "refused: Redis is not configured\n" end
    lk.try(out, "CLIENT KILL of itself", function()
      local info = rd.client_info()
      redis.call("CLIENT", "KILL", "ID", info.id)
    end)
    lk.try(out, "QUIT, last", redis.call, "QUIT")
    return lk.report(out)
  end,

  ["GET /redis_quit/probe"] = function(req)
    local problems = {}
    if not rd.start_probe(problems) then return "clean" end
    return lk.verdict(problems)
  end,
}

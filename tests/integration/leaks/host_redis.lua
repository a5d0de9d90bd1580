-- The redis table: replacing call/pcall/null, new keys, every write path.
local lk = require "lk"
local MARK = lk.marker("host_redis")

return {
  ["GET /host_redis/plant"] = function(req)
    local out = {}
    lk.write_all_ways(out, "redis", redis, "call", MARK, "redis")
    lk.try(out, "pcall replaced", function() redis.pcall = lk.evil(MARK) end)
    lk.try(out, "null replaced", function() redis.null = MARK end)
    lk.try(out, "mayfly.redis.call", function() mayfly.redis.call = lk.evil(MARK) end)
    return lk.report(out)
  end,

  ["GET /host_redis/probe"] = function(req)
    local problems = {}
    lk.check_table(problems, "redis", redis, MARK)
    if type(redis.call) ~= "function" or type(redis.pcall) ~= "function" then
      problems[#problems + 1] = "redis.call/pcall are not functions"
    end
    -- Without MAYFLY_REDIS_URL redis.call raises; with a Redis, PING answers PONG.
    local ok, r = pcall(redis.call, "PING")
    if not (ok and r == "PONG") and not (not ok and tostring(r):find("Redis", 1, true)) then
      problems[#problems + 1] = "redis.call('PING') gives " .. tostring(r)
    end
    if type(redis.null) ~= "userdata" then problems[#problems + 1] = "redis.null is " .. tostring(redis.null) end
    return lk.verdict(problems)
  end,
}

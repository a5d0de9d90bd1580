-- The Redis connection a worker keeps between requests: a MULTI left open (and a WATCH).
local lk = require "lk"
local rd = require "leak_redis"
local MARK = lk.marker("redis_multi")

return {
  ["GET /redis_multi/plant"] = function(req)
    local out = {}
    if not rd.configured() then return "refused: Redis is not configured\n" end
    lk.try(out, "WATCH", redis.call, "WATCH", MARK)
    -- Only an open MULTI queues the SET; without one it would be an ordinary write to Redis.
    if pcall(redis.call, "MULTI") then
      lk.try(out, "queued SET", redis.call, "SET", MARK, MARK)
    else
      lk.try(out, "MULTI", redis.call, "MULTI")
    end
    return lk.report(out)
  end,

  ["GET /redis_multi/probe"] = function(req)
    local problems = {}
    if not rd.start_probe(problems) then return "clean" end
    local ok, v = pcall(redis.call, "GET", MARK)
    if ok and v ~= nil then problems[#problems + 1] = "GET answered " .. tostring(v) end
    local ok2, info = pcall(rd.client_info)
    if ok2 and info.multi and info.multi ~= "-1" then problems[#problems + 1] = "a transaction is open: multi=" .. tostring(info.multi) end
    if ok2 and info.watch and info.watch ~= "0" then problems[#problems + 1] = "keys are watched: watch=" .. tostring(info.watch) end
    return lk.verdict(problems)
  end,
}

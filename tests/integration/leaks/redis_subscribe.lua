-- The Redis connection a worker keeps between requests: SUBSCRIBE / PSUBSCRIBE (pub/sub mode).
local lk = require "lk"
local rd = require "leak_redis"
local MARK = lk.marker("redis_subscribe")

return {
  ["GET /redis_subscribe/plant"] = function(req)
    local out = {}
    if not rd.configured() then return "refused: Redis is not configured\n" end
    lk.try(out, "SUBSCRIBE", redis.call, "SUBSCRIBE", MARK)
    lk.try(out, "PSUBSCRIBE", redis.call, "PSUBSCRIBE", MARK .. "*")
    return lk.report(out)
  end,

  ["GET /redis_subscribe/probe"] = function(req)
    local problems = {}
    if not rd.start_probe(problems) then return "clean" end
    local ok, v = pcall(redis.call, "GET", MARK)
    if not ok then problems[#problems + 1] = "GET raised: " .. tostring(v) end
    local ok2, info = pcall(rd.client_info)
    if ok2 and (info.sub ~= "0" or info.psub ~= "0") then
      problems[#problems + 1] = "the connection is subscribed: sub=" .. tostring(info.sub) .. " psub=" .. tostring(info.psub)
    end
    return lk.verdict(problems)
  end,
}

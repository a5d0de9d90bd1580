-- The Redis connection a worker keeps between requests: HELLO 3 (RESP3), CLIENT TRACKING, READONLY.
local lk = require "lk"
local rd = require "leak_redis"
local MARK = lk.marker("redis_protocol")

return {
  ["GET /redis_protocol/plant"] = function(req)
    local out = {}
    if not rd.configured() then return "refused: Redis is not configured\n" end
    lk.try(out, "HELLO 3", redis.call, "HELLO", 3)
    lk.try(out, "CLIENT TRACKING on", redis.call, "CLIENT", "TRACKING", "on")
    lk.try(out, "READONLY", redis.call, "READONLY")
    lk.try(out, "CLIENT NO-EVICT on", redis.call, "CLIENT", "NO-EVICT", "on")
    return lk.report(out)
  end,

  ["GET /redis_protocol/probe"] = function(req)
    local problems = {}
    if not rd.start_probe(problems) then return "clean" end
    local ok, info = pcall(rd.client_info)
    if not ok then
      problems[#problems + 1] = "CLIENT INFO raised: " .. tostring(info)
    else
      if info.resp ~= "2" then problems[#problems + 1] = "the connection speaks RESP" .. tostring(info.resp) end
      if info.flags and info.flags:find("t", 1, true) then problems[#problems + 1] = "client tracking is on (flags=" .. info.flags .. ")" end
      if info.flags and info.flags:find("e", 1, true) then problems[#problems + 1] = "no-evict is on (flags=" .. info.flags .. ")" end
    end
    local ok2, h = pcall(redis.call, "HGETALL", MARK)
    if not ok2 or type(h) ~= "table" then problems[#problems + 1] = "HGETALL answered " .. tostring(h) end
    return lk.verdict(problems)
  end,
}

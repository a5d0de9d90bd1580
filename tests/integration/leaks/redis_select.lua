-- The Redis connection a worker keeps between requests: SELECT another database.
local lk = require "lk"
local rd = require "leak_redis"
local MARK = lk.marker("redis_select")

return {
  ["GET /redis_select/plant"] = function(req)
    local out = {}
    if not rd.configured() then return "refused: Redis is not configured\n" end
    -- Only a SELECT that took effect makes the SET land in database 9; a SET in the configured
    -- database is state kept in Redis, where it belongs.
    if pcall(redis.call, "SELECT", 9) then
      lk.try(out, "SET in 9", redis.call, "SET", MARK, MARK)
    else
      lk.try(out, "SELECT 9", redis.call, "SELECT", 9)
    end
    return lk.report(out)
  end,

  ["GET /redis_select/probe"] = function(req)
    local problems = {}
    if not rd.start_probe(problems) then return "clean" end
    local ok, info = pcall(rd.client_info)
    local want = config.get("expected_redis_db", "0")
    if not ok then
      problems[#problems + 1] = "CLIENT INFO raised: " .. tostring(info)
    elseif info.db ~= want then
      problems[#problems + 1] = "the connection is on database " .. tostring(info.db) .. ", not " .. want
    end
    local ok2, v = pcall(redis.call, "GET", MARK)
    if ok2 and v ~= nil then problems[#problems + 1] = MARK .. " is visible: the database of the plant" end
    return lk.verdict(problems)
  end,
}

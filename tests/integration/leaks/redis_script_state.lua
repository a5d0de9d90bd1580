-- The Redis connection a worker keeps between requests, changed from inside a server-side script
-- (EVAL), where the host's list of refused commands does not look: SELECT, the protocol
-- (redis.setresp), CLIENT SETNAME, a script loaded for later. (A blocking command with no
-- timeout is left out: it fails after MAYFLY_REDIS_TIMEOUT, and enough of those open Redis's
-- circuit breaker, which every request shares by design.)
local lk = require "lk"
local rd = require "leak_redis"
local MARK = lk.marker("redis_script_state")

return {
  ["GET /redis_script_state/plant"] = function(req)
    local out = {}
    if not rd.configured() then return "refused: Redis is not configured\n" end
    lk.try(out, "EVAL SELECT 9, SET", redis.call, "EVAL",
      "redis.call('SELECT', 9) redis.call('SET', KEYS[1], ARGV[1]) return 1", 1, MARK, MARK)
    lk.try(out, "EVAL redis.setresp(3)", redis.call, "EVAL", "redis.setresp(3) return 1", 0)
    lk.try(out, "EVAL CLIENT SETNAME", redis.call, "EVAL",
      "return redis.call('CLIENT', 'SETNAME', ARGV[1])", 0, MARK)
    lk.try(out, "SCRIPT LOAD of a script that selects", redis.call, "SCRIPT", "LOAD",
      "redis.call('SELECT', 9) return 1")
    return lk.report(out)
  end,

  ["GET /redis_script_state/probe"] = function(req)
    local problems = {}
    if not rd.start_probe(problems) then return "clean" end
    local ok, info = pcall(rd.client_info)
    local want = config.get("expected_redis_db", "0")
    if not ok then
      problems[#problems + 1] = "CLIENT INFO raised: " .. tostring(info)
    else
      if info.db ~= want then problems[#problems + 1] = "the connection is on database " .. tostring(info.db) end
      if info.name and info.name ~= "" then problems[#problems + 1] = "the connection is named " .. info.name end
      if info.resp and info.resp ~= "2" then problems[#problems + 1] = "the connection speaks RESP" .. info.resp end
    end
    local ok2, v = pcall(redis.call, "GET", MARK)
    if ok2 and v ~= nil then problems[#problems + 1] = MARK .. " is visible in this database" end
    local ok3, v3 = pcall(redis.call, "HGETALL", "no-such-hash:" .. MARK)
    if not ok3 or type(v3) ~= "table" or next(v3) ~= nil then
      problems[#problems + 1] = "HGETALL of a missing key gave " .. tostring(v3)
    end
    return lk.verdict(problems)
  end,
}

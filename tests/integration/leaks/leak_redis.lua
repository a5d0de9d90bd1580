-- A module (no route keys): helpers of the redis_* vectors. The isolation test starts a
-- redis-server and sets MAYFLY_REDIS_URL (database 2) and MAYFLY_CFG_EXPECTED_REDIS_DB=2;
-- without a Redis the probes have nothing to look at and answer clean.
local M = {}

-- Whether Redis is configured for this host (a probe without Redis has nothing to check).
function M.configured()
  local ok, err = pcall(redis.call, "PING")
  return ok or not tostring(err):find("not configured", 1, true)
end

-- CLIENT INFO of this worker's connection, as a table of fields.
function M.client_info()
  local info = redis.call("CLIENT", "INFO")
  local t = {}
  for k, v in tostring(info):gmatch("(%S+)=(%S*)") do t[k] = v end
  return t, info
end

-- A probe's first command: the connection it inherits must answer plainly, PING gives PONG (not
-- QUEUED, not a pub/sub array, not the error of a connection an earlier request broke). Returns
-- false when Redis is not configured (nothing to probe).
function M.start_probe(problems)
  local ok, r = pcall(redis.call, "PING")
  if not ok and tostring(r):find("not configured", 1, true) then
    return false
  end
  if not ok then
    problems[#problems + 1] = "the first PING raised: " .. tostring(r)
  elseif r ~= "PONG" then
    local shown = type(r) == "table" and ("{" .. tostring(r[1]) .. ", " .. tostring(r[2]) .. "}") or tostring(r)
    problems[#problems + 1] = "the first PING answered " .. shown
  end
  return true
end

return M

-- The Redis connection a worker keeps between requests: CLIENT SETNAME.
local lk = require "lk"
local rd = require "leak_redis"
local MARK = lk.marker("redis_client_name")

return {
  ["GET /redis_client_name/plant"] = function(req)
    local out = {}
    if not rd.configured() then return "refused: Redis is not configured\n" end
    lk.try(out, "CLIENT SETNAME", redis.call, "CLIENT", "SETNAME", MARK)
    return lk.report(out)
  end,

  ["GET /redis_client_name/probe"] = function(req)
    local problems = {}
    if not rd.start_probe(problems) then return "clean" end
    local ok, name = pcall(redis.call, "CLIENT", "GETNAME")
    if not ok then
      problems[#problems + 1] = "CLIENT GETNAME raised: " .. tostring(name)
    elseif name ~= nil and tostring(name):find("LEAK_", 1, true) then
      problems[#problems + 1] = "the connection is named " .. tostring(name)
    end
    return lk.verdict(problems)
  end,
}

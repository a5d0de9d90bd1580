-- mayfly.env: the replica's identity, read once at start.
local lk = require "lk"
local MARK = lk.marker("host_env")

return {
  ["GET /host_env/plant"] = function(req)
    local out = {}
    lk.write_all_ways(out, "mayfly.env", mayfly.env, "pod_name", MARK, "mayfly.env")
    lk.try(out, "hostname", function() mayfly.env.hostname = MARK end)
    lk.try(out, "require 'mayfly.env'", function() require("mayfly.env").namespace = MARK end)
    return lk.report(out)
  end,

  ["GET /host_env/probe"] = function(req)
    local problems = {}
    lk.check_table(problems, "mayfly.env", mayfly.env, MARK)
    for k, v in pairs(mayfly.env) do
      if type(v) ~= "string" then problems[#problems + 1] = "mayfly.env." .. tostring(k) .. " is a " .. type(v) end
    end
    if type(mayfly.env.hostname) ~= "string" or mayfly.env.version ~= mayfly.version then
      problems[#problems + 1] = "mayfly.env.hostname/version changed"
    end
    return lk.verdict(problems)
  end,
}

-- The mayfly table: new keys, replaced modules, mayfly.version, every write path.
local lk = require "lk"
local MARK = lk.marker("host_mayfly")

return {
  ["GET /host_mayfly/plant"] = function(req)
    local out = {}
    lk.write_all_ways(out, "mayfly", mayfly, "json", MARK, "mayfly")
    lk.try(out, "mayfly.version", function() mayfly.version = MARK end)
    lk.try(out, "mayfly.config replaced", function() mayfly.config = { get = lk.evil(MARK) } end)
    lk.try(out, "getmetatable(mayfly).__index", function() getmetatable(mayfly).__index = {} end)
    for k, v in pairs(mayfly) do
      if type(v) == "table" then
        lk.try(out, "mayfly." .. k .. " new key", function() v[MARK] = MARK end)
      end
    end
    return lk.report(out)
  end,

  ["GET /host_mayfly/probe"] = function(req)
    -- The host's functions directly in the mayfly table (frozen C functions, no state).
    local HOST_FUNCTIONS = { constant = true, sleep = true, subscribe = true, psubscribe = true }
    local problems = {}
    lk.check_table(problems, "mayfly", mayfly, MARK)
    for k, v in pairs(mayfly) do
      if type(v) == "table" then
        lk.check_table(problems, "mayfly." .. k, v, MARK)
        local ok, m = pcall(require, "mayfly." .. k)
        if not ok or not rawequal(m, v) then problems[#problems + 1] = "mayfly." .. k .. " is not its module" end
      elseif k ~= "version" and not HOST_FUNCTIONS[k] then -- the host's own non-table fields
        problems[#problems + 1] = "mayfly." .. tostring(k) .. " is a " .. type(v)
      end
    end
    for name in pairs(HOST_FUNCTIONS) do
      if type(mayfly[name]) ~= "function" then problems[#problems + 1] = "mayfly." .. name .. " is a " .. type(mayfly[name]) end
    end
    if mayfly.version ~= mayfly.env.version then problems[#problems + 1] = "mayfly.version is " .. tostring(mayfly.version) end
    if not rawequal(mayfly.config, config) or not rawequal(mayfly.redis, redis) or not rawequal(mayfly.log, log) then
      problems[#problems + 1] = "mayfly.config/redis/log are not the globals"
    end
    if getmetatable(mayfly) ~= "mayfly: read-only mayfly" then
      problems[#problems + 1] = "getmetatable(mayfly) is " .. tostring(getmetatable(mayfly))
    end
    return lk.verdict(problems)
  end,
}

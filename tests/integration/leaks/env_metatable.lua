-- The environment's metatable (shared by every environment: its __index leads to the shared
-- globals): replacing it, removing it, writing through what getmetatable(_G) returns.
local lk = require "lk"
local MARK = lk.marker("env_metatable")

return {
  ["GET /env_metatable/plant"] = function(req)
    local out = {}
    lk.try(out, "setmetatable(_G, new)", setmetatable, _G, {
      __index = function(_, k) return MARK end,
      __newindex = function() end,
    })
    lk.try(out, "setmetatable(_G, nil)", setmetatable, _G, nil)
    lk.try(out, "setmetatable(getfenv(0))", setmetatable, getfenv(0), { __index = { [MARK] = MARK } })
    lk.try(out, "getmetatable(_G).__index", function() getmetatable(_G).__index = { [MARK] = MARK } end)
    lk.try(out, "rawset(getmetatable(_G))", function() rawset(getmetatable(_G), "__index", {}) end)
    lk.try(out, "getmetatable(_G) is", function() error(tostring(getmetatable(_G)), 0) end)
    return lk.report(out)
  end,

  ["GET /env_metatable/probe"] = function(req)
    local problems = {}
    if getmetatable(_G) ~= "mayfly: request environment" then
      problems[#problems + 1] = "getmetatable(_G) is " .. tostring(getmetatable(_G))
    end
    if LEAK_env_metatable_undefined ~= nil then
      problems[#problems + 1] = "an undefined global is " .. tostring(LEAK_env_metatable_undefined)
    end
    if _G[MARK] ~= nil then problems[#problems + 1] = MARK .. " is a global" end
    if type(print) ~= "function" or type(string.format) ~= "function" or type(mayfly) ~= "table" then
      problems[#problems + 1] = "shared globals no longer resolve"
    end
    lk.check_table(problems, "_G", _G, MARK)
    return lk.verdict(problems)
  end,
}

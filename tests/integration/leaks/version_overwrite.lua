-- _VERSION and the version strings of the host.
local lk = require "lk"
local MARK = lk.marker("version_overwrite")

return {
  ["GET /version_overwrite/plant"] = function(req)
    local out = {}
    lk.try(out, "_VERSION =", function() _VERSION = MARK end)
    lk.try(out, "rawset _VERSION", rawset, _G, "_VERSION", MARK)
    lk.try(out, "getfenv(print)._VERSION", function() getfenv(print)._VERSION = MARK end)
    lk.try(out, "mayfly.version =", function() mayfly.version = MARK end)
    lk.try(out, "mayfly.env.version =", function() mayfly.env.version = MARK end)
    lk.try(out, "rawset mayfly.version", rawset, mayfly, "version", MARK)
    lk.try(out, "config._VERSION =", function() config._VERSION = MARK end)
    return lk.report(out)
  end,

  ["GET /version_overwrite/probe"] = function(req)
    local problems = {}
    if _VERSION ~= "Lua 5.1" then problems[#problems + 1] = "_VERSION is " .. tostring(_VERSION) end
    if type(mayfly.version) ~= "string" or mayfly.version ~= mayfly.env.version
      or mayfly.version:find("LEAK") then
      problems[#problems + 1] = "mayfly.version is " .. tostring(mayfly.version)
    end
    if config._VERSION == MARK then problems[#problems + 1] = "config._VERSION is " .. MARK end
    return lk.verdict(problems)
  end,
}

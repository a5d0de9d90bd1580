-- The debug library beyond traceback (getregistry, upvalues, hooks, metatables, locals, info):
-- all must be absent; debug itself is read-only.
local lk = require "lk"
local MARK = lk.marker("debug_lib")

return {
  ["GET /debug_lib/plant"] = function(req)
    local out = {}
    lk.try(out, "debug.getregistry", function() debug.getregistry()[MARK] = MARK end)
    lk.try(out, "debug.getupvalue", function() return debug.getupvalue(config.get, 1) end)
    lk.try(out, "debug.setupvalue", function() debug.setupvalue(config.get, 1, {}) end)
    lk.try(out, "debug.upvaluejoin", function() debug.upvaluejoin(config.get, 1, print, 1) end)
    lk.try(out, "debug.sethook", function() debug.sethook(function() end, "", 1000) end)
    lk.try(out, "debug.setmetatable", function() debug.setmetatable(nil, { __index = { [MARK] = MARK } }) end)
    lk.try(out, "debug.getmetatable", function() debug.getmetatable("").__index[MARK] = MARK end)
    lk.try(out, "debug.getinfo", function() return debug.getinfo(2, "f").func end)
    lk.try(out, "debug.getlocal", function() return debug.getlocal(2, 1) end)
    lk.try(out, "debug.setfenv", function() debug.setfenv(print, { [MARK] = MARK }) end)
    lk.try(out, "debug.getfenv", function() debug.getfenv(print)[MARK] = MARK end)
    lk.try(out, "debug.traceback replaced", function() debug.traceback = lk.evil(MARK) end)
    lk.try(out, "debug.getregistry replaced", function() debug.getregistry = lk.evil(MARK) end)
    lk.try(out, "require 'debug' write", function() require("debug").sethook = lk.evil(MARK) end)
    return lk.report(out)
  end,

  ["GET /debug_lib/probe"] = function(req)
    local problems = {}
    for k in pairs(debug) do
      if k ~= "traceback" then problems[#problems + 1] = "debug." .. tostring(k) .. " is present" end
    end
    for _, n in ipairs { "getregistry", "getupvalue", "setupvalue", "sethook", "gethook", "setmetatable",
      "getmetatable", "getinfo", "getlocal", "setlocal", "setfenv", "getfenv", "upvaluejoin", "upvalueid" } do
      if debug[n] ~= nil then problems[#problems + 1] = "debug." .. n .. " is reachable" end
    end
    if not tostring(debug.traceback("m")):find("^m\nstack traceback:") then
      problems[#problems + 1] = "debug.traceback misbehaves"
    end
    -- A hook left installed would run here: a loop must finish undisturbed.
    local ok, err = pcall(function() local x = 0 for i = 1, 100000 do x = x + i end return x end)
    if not ok then problems[#problems + 1] = "a loop raised: " .. tostring(err) end
    if getmetatable(nil) ~= nil then problems[#problems + 1] = "nil has a metatable" end
    return lk.verdict(problems)
  end,
}

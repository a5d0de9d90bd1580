-- A module's chunk replacing its own environment (the host's compiled chunk is shared between
-- requests; its environment must be the requiring request's every time it runs).
local lk = require "lk"
local MARK = lk.marker("module_fenv")

return {
  ["GET /module_fenv/plant"] = function(req)
    local out = {}
    lk.try(out, "setfenv(1) in the module chunk", function()
      LEAK_module_fenv_plant = MARK
      require "leak_fenvmod"
    end)
    lk.try(out, "module required as a route file", function() require "module_fenv" end)
    return lk.report(out)
  end,

  ["GET /module_fenv/probe"] = function(req)
    local problems = {}
    local m = require "leak_fenvmod"
    if m.seen.leak ~= nil then problems[#problems + 1] = "the module chunk saw " .. tostring(m.seen.leak) end
    if not m.seen.env_is_request then
      problems[#problems + 1] = "the module chunk ran in another environment"
    end
    if m.later() ~= nil then problems[#problems + 1] = "the module's functions see " .. tostring(m.later()) end
    if LEAK_module_fenv_global ~= nil or LEAK_module_fenv ~= nil then
      problems[#problems + 1] = "a global of the module survived"
    end
    return lk.verdict(problems)
  end,
}

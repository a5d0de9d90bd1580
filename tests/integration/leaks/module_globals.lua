-- A module that keeps its state in globals while it loads and when it is called.
local lk = require "lk"

return {
  ["GET /module_globals/plant"] = function(req)
    local out = {}
    local m = require "leak_globmod"
    lk.try(out, "register", function() m.register("LEAK_module_globals") end)
    lk.try(out, "require again", function() require "leak_globmod" end)
    return lk.report(out)
  end,

  ["GET /module_globals/probe"] = function(req)
    local problems = {}
    local m = require "leak_globmod"
    if m.loads() ~= 1 then problems[#problems + 1] = "the module has loaded " .. tostring(m.loads()) .. " times" end
    if m.registered() ~= 0 then problems[#problems + 1] = "the module's registry has " .. m.registered() .. " entries" end
    return lk.verdict(problems)
  end,
}

-- The config module's table: replacing get/number/bool/duration/all, new keys, write paths.
local lk = require "lk"
local MARK = lk.marker("host_config_module")

return {
  ["GET /host_config_module/plant"] = function(req)
    local out = {}
    lk.write_all_ways(out, "config", config, "get", MARK, "config")
    for _, n in ipairs { "number", "bool", "duration", "all" } do
      lk.try(out, "config." .. n .. " replaced", function() config[n] = lk.evil(MARK) end)
    end
    lk.try(out, "mayfly.config.get", function() mayfly.config.get = lk.evil(MARK) end)
    lk.try(out, "require 'mayfly.config'", function() require("mayfly.config")[MARK] = MARK end)
    return lk.report(out)
  end,

  ["GET /host_config_module/probe"] = function(req)
    local problems = {}
    lk.check_table(problems, "config", config, MARK)
    if config.get("leak_no_such_key", "d") ~= "d" then problems[#problems + 1] = "config.get misbehaves" end
    if config.number("leak_no_such_key", 3) ~= 3 then problems[#problems + 1] = "config.number misbehaves" end
    if config.bool("leak_no_such_key", true) ~= true then problems[#problems + 1] = "config.bool misbehaves" end
    if config.duration("leak_no_such_key", 2) ~= 2 then problems[#problems + 1] = "config.duration misbehaves" end
    if type(config.all()) ~= "table" or config.all()[MARK] ~= nil then problems[#problems + 1] = "config.all misbehaves" end
    return lk.verdict(problems)
  end,
}

-- The raw config behind the config module (require "mayfly._config_source"): its values and
-- overrides tables.
local lk = require "lk"
local MARK = lk.marker("config_source")

return {
  ["GET /config_source/plant"] = function(req)
    local out = {}
    local ok, src = pcall(require, "mayfly._config_source")
    if not ok then
      out[#out + 1] = "require: refused: " .. tostring(src)
      return lk.report(out)
    end
    lk.write_all_ways(out, "source", src, "values", MARK)
    lk.write_all_ways(out, "source.values", src.values, "greeting", MARK)
    lk.write_all_ways(out, "source.overrides", src.overrides, "OVERRIDDEN", MARK)
    lk.try(out, "override of greeting added", function() src.overrides.GREETING = MARK end)
    return lk.report(out)
  end,

  ["GET /config_source/probe"] = function(req)
    local problems = {}
    local ok, src = pcall(require, "mayfly._config_source")
    if ok then
      lk.check_table(problems, "source", src, MARK)
      lk.check_table(problems, "source.values", src.values, MARK)
      lk.check_table(problems, "source.overrides", src.overrides, MARK)
      if src.overrides.GREETING ~= nil then problems[#problems + 1] = "an override of greeting appeared" end
    end
    local g = config.get("greeting")
    if g ~= nil and g ~= "hello" then problems[#problems + 1] = "greeting is " .. tostring(g) end
    local o = config.get("overridden")
    if o ~= nil and o ~= "from-env" then problems[#problems + 1] = "overridden is " .. tostring(o) end
    return lk.verdict(problems)
  end,
}

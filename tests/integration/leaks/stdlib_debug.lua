-- The debug library (a read-only host table): assignment, overwrite, rawset, table.insert,
-- table.move, setmetatable, through require and through load().
local lk = require "lk"
local MARK = lk.marker("stdlib_debug")

return {
  ["GET /stdlib_debug/plant"] = function(req)
    local out = {}
    lk.plant_lib(out, "debug", MARK)
    return lk.report(out)
  end,

  ["GET /stdlib_debug/probe"] = function(req)
    local problems = {}
    lk.probe_lib(problems, "debug", MARK)
    return lk.verdict(problems)
  end,
}

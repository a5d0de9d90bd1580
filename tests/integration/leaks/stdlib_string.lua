-- The string library (a read-only host table): assignment, overwrite, rawset, table.insert,
-- table.move, setmetatable, through require and through load().
local lk = require "lk"
local MARK = lk.marker("stdlib_string")

return {
  ["GET /stdlib_string/plant"] = function(req)
    local out = {}
    lk.plant_lib(out, "string", MARK)
    return lk.report(out)
  end,

  ["GET /stdlib_string/probe"] = function(req)
    local problems = {}
    lk.probe_lib(problems, "string", MARK)
    return lk.verdict(problems)
  end,
}

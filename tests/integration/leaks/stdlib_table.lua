-- The table library (a read-only host table): assignment, overwrite, rawset, table.insert,
-- table.move, setmetatable, through require and through load().
local lk = require "lk"
local MARK = lk.marker("stdlib_table")

return {
  ["GET /stdlib_table/plant"] = function(req)
    local out = {}
    lk.plant_lib(out, "table", MARK)
    return lk.report(out)
  end,

  ["GET /stdlib_table/probe"] = function(req)
    local problems = {}
    lk.probe_lib(problems, "table", MARK)
    return lk.verdict(problems)
  end,
}

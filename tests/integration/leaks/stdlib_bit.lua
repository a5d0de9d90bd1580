-- The bit library (a read-only host table): assignment, overwrite, rawset, table.insert,
-- table.move, setmetatable, through require and through load().
local lk = require "lk"
local MARK = lk.marker("stdlib_bit")

return {
  ["GET /stdlib_bit/plant"] = function(req)
    local out = {}
    lk.plant_lib(out, "bit", MARK)
    return lk.report(out)
  end,

  ["GET /stdlib_bit/probe"] = function(req)
    local problems = {}
    lk.probe_lib(problems, "bit", MARK)
    return lk.verdict(problems)
  end,
}

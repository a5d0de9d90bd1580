-- The os library (a read-only host table): assignment, overwrite, rawset, table.insert,
-- table.move, setmetatable, through require and through load().
local lk = require "lk"
local MARK = lk.marker("stdlib_os")

return {
  ["GET /stdlib_os/plant"] = function(req)
    local out = {}
    lk.plant_lib(out, "os", MARK)
    return lk.report(out)
  end,

  ["GET /stdlib_os/probe"] = function(req)
    local problems = {}
    lk.probe_lib(problems, "os", MARK)
    return lk.verdict(problems)
  end,
}

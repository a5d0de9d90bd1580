-- The math library (a read-only host table): assignment, overwrite, rawset, table.insert,
-- table.move, setmetatable, through require and through load().
local lk = require "lk"
local MARK = lk.marker("stdlib_math")

return {
  ["GET /stdlib_math/plant"] = function(req)
    local out = {}
    lk.plant_lib(out, "math", MARK)
    return lk.report(out)
  end,

  ["GET /stdlib_math/probe"] = function(req)
    local problems = {}
    lk.probe_lib(problems, "math", MARK)
    return lk.verdict(problems)
  end,
}

-- The coroutine library (a read-only host table): assignment, overwrite, rawset, table.insert,
-- table.move, setmetatable, through require and through load().
local lk = require "lk"
local MARK = lk.marker("stdlib_coroutine")

return {
  ["GET /stdlib_coroutine/plant"] = function(req)
    local out = {}
    lk.plant_lib(out, "coroutine", MARK)
    return lk.report(out)
  end,

  ["GET /stdlib_coroutine/probe"] = function(req)
    local problems = {}
    lk.probe_lib(problems, "coroutine", MARK)
    return lk.verdict(problems)
  end,
}

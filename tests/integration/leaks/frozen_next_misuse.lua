-- The iterator pairs() returns for a read-only table, called by hand on other values (a plain
-- table, nil, a string, a proxy with a missing key). It must raise or iterate, never crash.
local lk = require "lk"
local MARK = lk.marker("frozen_next_misuse")

return {
  ["GET /frozen_next_misuse/plant"] = function(req)
    local out = {}
    local frozen_next = pairs(string)
    lk.try(out, "on a proxy", frozen_next, string, nil)
    lk.try(out, "on a proxy, missing key", frozen_next, string, MARK)
    lk.try(out, "on a plain table", frozen_next, { [MARK] = MARK }, nil)
    lk.try(out, "on an empty table", frozen_next, {}, nil)
    lk.try(out, "on the environment", frozen_next, _G, nil)
    return lk.report(out)
  end,

  ["GET /frozen_next_misuse/probe"] = function(req)
    local problems = {}
    local n = 0
    for k, v in pairs(string) do
      n = n + 1
      if k == MARK or v == MARK then problems[#problems + 1] = "string holds " .. MARK end
    end
    if n < 10 then problems[#problems + 1] = "pairs(string) gives " .. n .. " keys" end
    return lk.verdict(problems)
  end,
}

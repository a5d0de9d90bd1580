-- The iterator ipairs() returns for a read-only table, called by hand on other values. It must
-- raise or iterate, never crash.
local lk = require "lk"
local MARK = lk.marker("frozen_inext_misuse")

return {
  ["GET /frozen_inext_misuse/plant"] = function(req)
    local out = {}
    local frozen_inext = ipairs(string)
    lk.try(out, "on a proxy", frozen_inext, string, 0)
    lk.try(out, "on a plain table", frozen_inext, { MARK }, 0)
    lk.try(out, "on nil", frozen_inext, nil, 0)
    lk.try(out, "on a string", frozen_inext, MARK, 0)
    return lk.report(out)
  end,

  ["GET /frozen_inext_misuse/probe"] = function(req)
    local problems = {}
    for i, v in ipairs(string) do problems[#problems + 1] = "string[" .. i .. "] = " .. tostring(v) end
    local n = 0
    for _ in ipairs { 1, 2, 3 } do n = n + 1 end
    if n ~= 3 then problems[#problems + 1] = "ipairs over a plain table gives " .. n end
    return lk.verdict(problems)
  end,
}

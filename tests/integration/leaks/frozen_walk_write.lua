-- Everything reachable through the read-only tables (rawget, next, pairs, ipairs, the iterators'
-- state, metatables): any table found along the way is written into.
local lk = require "lk"
local MARK = lk.marker("frozen_walk_write")

return {
  ["GET /frozen_walk_write/plant"] = function(req)
    local out = {}
    local _, tabs = lk.reachable(req)
    local planted, refused = {}, 0
    for _, t in ipairs(tabs) do
      local tbl = t[2]
      local ok = pcall(function() tbl[MARK] = MARK end)
      local ok2 = pcall(rawset, tbl, MARK .. "_raw", MARK)
      if ok or ok2 then planted[#planted + 1] = t[1] else refused = refused + 1 end
      -- What the iterators hand out as their state, and raw values.
      pcall(function()
        local _, state = pairs(tbl)
        if type(state) == "table" and not rawequal(state, tbl) then state[MARK] = MARK end
        for k in pairs(tbl) do
          local v = rawget(tbl, k)
          if type(v) == "table" then pcall(function() v[MARK] = MARK end) end
        end
      end)
    end
    out[#out + 1] = "tables written: " .. (#planted > 0 and table.concat(planted, ", ") or "none")
    out[#out + 1] = "tables refused: " .. refused
    return lk.report(out)
  end,

  ["GET /frozen_walk_write/probe"] = function(req)
    local problems = {}
    local _, tabs = lk.reachable(req)
    for _, t in ipairs(tabs) do
      lk.check_table(problems, t[1], t[2], MARK)
      local ok, v = pcall(rawget, t[2], MARK .. "_raw")
      if ok and v ~= nil then problems[#problems + 1] = t[1] .. " holds " .. MARK .. "_raw" end
    end
    return lk.verdict(problems)
  end,
}

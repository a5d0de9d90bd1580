-- Globals written with rawset, on _G and on every environment getfenv hands out.
local lk = require "lk"
local MARK = lk.marker("globals_rawset")

return {
  ["GET /globals_rawset/plant"] = function(req)
    local out = {}
    lk.try(out, "rawset(_G)", rawset, _G, MARK, MARK)
    lk.try(out, "rawset(getfenv(0))", rawset, getfenv(0), MARK .. "_0", MARK)
    lk.try(out, "rawset(getfenv(1))", function() rawset(getfenv(1), MARK .. "_1", MARK) end)
    lk.try(out, "rawset(getfenv())", function() rawset(getfenv(), MARK .. "_x", MARK) end)
    lk.try(out, "rawset(getfenv(print))", rawset, getfenv(print), MARK .. "_print", MARK)
    lk.try(out, "rawset(getfenv(rawset))", rawset, getfenv(rawset), MARK .. "_rawset", MARK)
    lk.try(out, "rawset(_G, '_G')", rawset, _G, "_G", { [MARK] = MARK })
    return lk.report(out)
  end,

  ["GET /globals_rawset/probe"] = function(req)
    local problems = {}
    for _, suffix in ipairs { "", "_0", "_1", "_x", "_print", "_rawset" } do
      if rawget(_G, MARK .. suffix) ~= nil or _G[MARK .. suffix] ~= nil then
        problems[#problems + 1] = MARK .. suffix .. " is set"
      end
    end
    if not rawequal(_G, getfenv(0)) then problems[#problems + 1] = "_G is not the environment" end
    lk.check_table(problems, "_G", _G, MARK)
    lk.check_table(problems, "getfenv(print)", getfenv(print), MARK)
    return lk.verdict(problems)
  end,
}

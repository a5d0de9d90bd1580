-- Globals set the plain way: assignment, _G fields, global functions, non-string keys.
local lk = require "lk"
local MARK = lk.marker("globals_direct")

return {
  ["GET /globals_direct/plant"] = function(req)
    local out = {}
    lk.try(out, "global assignment", function() LEAK_globals_direct = MARK end)
    lk.try(out, "_G field", function() _G.LEAK_globals_direct_G = MARK end)
    lk.try(out, "_G[name]", function() _G[MARK] = MARK end)
    lk.try(out, "global function", function()
      function LEAK_globals_direct_fn() return MARK end
    end)
    lk.try(out, "integer key", function() _G[1] = MARK end)
    lk.try(out, "boolean key", function() _G[true] = MARK end)
    lk.try(out, "table key", function() _G[_G] = MARK end)
    lk.try(out, "global counter", function()
      LEAK_globals_direct_count = (LEAK_globals_direct_count or 0) + 1
    end)
    return lk.report(out)
  end,

  ["GET /globals_direct/probe"] = function(req)
    local problems = {}
    -- The environment starts with one key of its own, _G; anything else came from somewhere.
    for k, v in pairs(_G) do
      if k ~= "_G" then
        problems[#problems + 1] = "the new environment holds " .. tostring(k) .. " = " .. tostring(v)
      end
    end
    if LEAK_globals_direct ~= nil then problems[#problems + 1] = "global assignment survived" end
    if LEAK_globals_direct_G ~= nil then problems[#problems + 1] = "_G field survived" end
    if LEAK_globals_direct_fn ~= nil then problems[#problems + 1] = "global function survived" end
    if LEAK_globals_direct_count ~= nil then
      problems[#problems + 1] = "global counter at " .. tostring(LEAK_globals_direct_count)
    end
    if _G[1] ~= nil or _G[true] ~= nil or _G[_G] ~= nil then
      problems[#problems + 1] = "non-string global key survived"
    end
    lk.check_table(problems, "_G", _G, MARK)
    return lk.verdict(problems)
  end,
}

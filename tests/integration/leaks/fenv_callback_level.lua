-- getfenv(level) and setfenv(level) from inside callbacks that host functions call (the level
-- above the callback is the host function: table.foreach, table.sort, string.gsub, xpcall, ...).
local lk = require "lk"
local MARK = lk.marker("fenv_callback_level")

local callers = {
  { "table.foreach", function(cb) table.foreach({ 1 }, function() cb() end) end },
  { "table.foreachi", function(cb) table.foreachi({ 1 }, function() cb() end) end },
  { "table.sort", function(cb) table.sort({ 3, 1, 2 }, function(a, b) cb() return a < b end) end },
  { "string.gsub", function(cb) string.gsub("a", "a", function() cb() end) end },
  { "xpcall", function(cb) xpcall(function() error("x") end, function() cb() end) end },
  { "coroutine.wrap", function(cb) coroutine.wrap(function() cb() end)() end },
  { "pcall", function(cb) pcall(function() cb() end) end },
}

return {
  ["GET /fenv_callback_level/plant"] = function(req)
    local out = {}
    for _, c in ipairs(callers) do
      for level = 2, 4 do
        lk.try(out, "getfenv(" .. level .. ") in " .. c[1] .. " write", c[2], function()
          getfenv(level + 1)[MARK] = MARK -- + 1: this function is the callback's callee
        end)
        lk.try(out, "setfenv(" .. level .. ") in " .. c[1], c[2], function()
          local old = getfenv(level + 1)
          setfenv(level + 1, setmetatable({ [MARK .. "_set"] = MARK }, { __index = old }))
        end)
      end
    end
    return lk.report(out)
  end,

  ["GET /fenv_callback_level/probe"] = function(req)
    local problems = {}
    for _, c in ipairs(callers) do
      for level = 2, 4 do
        c[2](function()
          local ok, e = pcall(getfenv, level + 2) -- + 2: this function and pcall
          if not ok then return end
          for _, k in ipairs { MARK, MARK .. "_set" } do
            local ok2, v = pcall(function() return e[k] end)
            if ok2 and v ~= nil then problems[#problems + 1] = "getfenv(" .. level .. ") in " .. c[1] .. " holds " .. k end
          end
          local why = lk.unsafe_env(e)
          if why then problems[#problems + 1] = "getfenv(" .. level .. ") in " .. c[1] .. " is unsafe: " .. why end
        end)
      end
    end
    -- Dedupe: several levels name the same environment.
    local seen, unique = {}, {}
    for _, p in ipairs(problems) do
      if not seen[p] then seen[p] = true unique[#unique + 1] = p end
    end
    return lk.verdict(unique)
  end,
}

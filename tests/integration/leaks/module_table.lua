-- A user module: its table, its nested tables, its functions and its module-level locals.
local lk = require "lk"
local MARK = lk.marker("module_table")

return {
  ["GET /module_table/plant"] = function(req)
    local out = {}
    local m = require "leak_mod"
    lk.try(out, "count", function() m.count = m.count + 100 end)
    lk.try(out, "list", function() m.list[#m.list + 1] = MARK end)
    lk.try(out, "nested settings", function() m.settings.mode = MARK end)
    lk.try(out, "new key", function() m[MARK] = MARK end)
    lk.try(out, "module-level counter", function() for _ = 1, 5 do m.bump() end end)
    lk.try(out, "module-level cache", function() m.remember("k", MARK) end)
    lk.try(out, "function replaced", function() m.recall = lk.evil(MARK) end)
    lk.try(out, "setmetatable", setmetatable, m, { __index = function() return MARK end })
    return lk.report(out)
  end,

  ["GET /module_table/probe"] = function(req)
    local problems = {}
    local m = require "leak_mod"
    if m ~= require "leak_mod" then problems[#problems + 1] = "require gave two tables" end
    if m.count ~= 0 then problems[#problems + 1] = "count is " .. tostring(m.count) end
    if #m.list ~= 0 then problems[#problems + 1] = "list has " .. #m.list .. " entries" end
    if m.settings.mode ~= "default" then problems[#problems + 1] = "mode is " .. tostring(m.settings.mode) end
    local calls = m.bump()
    if calls ~= 1 then problems[#problems + 1] = "the module's counter is at " .. calls end
    if m.recall("k") ~= nil then problems[#problems + 1] = "the module's cache holds " .. tostring(m.recall("k")) end
    if getmetatable(m) ~= nil then problems[#problems + 1] = "the module table has a metatable" end
    lk.check_table(problems, "leak_mod", m, MARK)
    return lk.verdict(problems)
  end,
}

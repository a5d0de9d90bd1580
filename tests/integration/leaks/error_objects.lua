-- Error values: tables with metatables thrown and caught, error handlers that keep them, error
-- itself replaced, errors thrown out of coroutines.
local lk = require "lk"
local MARK = lk.marker("error_objects")

return {
  ["GET /error_objects/plant"] = function(req)
    local out = {}
    local evil_err = setmetatable({ [MARK] = MARK }, { __tostring = lk.evil(MARK), __index = lk.evil(MARK) })
    lk.try(out, "throw a table with metatable", function() error(evil_err) end)
    lk.try(out, "xpcall handler keeps the error", function()
      xpcall(function() error(evil_err) end, function(e) LEAK_error_objects = e return e end)
    end)
    lk.try(out, "error from a coroutine", function()
      local co = coroutine.create(function() error(evil_err) end)
      local _, e = coroutine.resume(co)
      LEAK_error_objects_co = e
    end)
    lk.try(out, "error replaced", function() error = lk.evil(MARK) end)
    lk.try(out, "string error with level", function() getfenv(0).error("LEAK_error_objects", 2) end)
    return lk.report(out)
  end,

  ["GET /error_objects/probe"] = function(req)
    local problems = {}
    local ok, e = pcall(error, "boom", 0)
    if ok or e ~= "boom" then problems[#problems + 1] = "error('boom', 0) gave " .. tostring(e) end
    ok, e = pcall(error, {})
    if ok or type(e) ~= "table" or next(e) ~= nil or getmetatable(e) ~= nil then
      problems[#problems + 1] = "error({}) gave " .. tostring(e)
    end
    ok, e = pcall(function() local x = nil; return x.y end)
    if ok or not tostring(e):find("attempt to index") then problems[#problems + 1] = "a runtime error reads " .. tostring(e) end
    if LEAK_error_objects ~= nil or LEAK_error_objects_co ~= nil then problems[#problems + 1] = "an earlier error is in a global" end
    if lk.is_evil(error) then problems[#problems + 1] = "error was replaced" end
    return lk.verdict(problems)
  end,
}

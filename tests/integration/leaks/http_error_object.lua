-- The errors req:json() raises (a table with a metatable the host shares to recognise them):
-- changing the error, its metatable, faking one.
local lk = require "lk"
local MARK = lk.marker("http_error_object")

return {
  ["GET /http_error_object/plant"] = function(req)
    local out = {}
    local ok, e = pcall(req.json, req)
    lk.try(out, "req:json() on an empty body raised", function() assert(not ok, "it did not") end)
    lk.try(out, "error fields", function() e.status = 200 e.message = MARK end)
    lk.try(out, "setmetatable(error)", setmetatable, e, { __tostring = lk.evil(MARK) })
    lk.try(out, "getmetatable(error).__tostring", function() getmetatable(e).__tostring = lk.evil(MARK) end)
    lk.try(out, "getmetatable(error) is", function() error(tostring(getmetatable(e)), 0) end)
    lk.try(out, "error kept in a global", function() LEAK_http_error_object = e end)
    return lk.report(out)
  end,

  ["GET /http_error_object/probe"] = function(req)
    local problems = {}
    local ok, e = pcall(req.json, req)
    if ok then
      problems[#problems + 1] = "req:json() on an empty body returned " .. tostring(e)
    else
      if type(e) ~= "table" or e.status ~= 400 then problems[#problems + 1] = "the error's status is " .. tostring(type(e) == "table" and e.status) end
      if not tostring(e):find("empty", 1, true) then problems[#problems + 1] = "tostring(error) is " .. tostring(e) end
      if type(e) == "table" and e.message == MARK then problems[#problems + 1] = "the error's message is " .. MARK end
    end
    if LEAK_http_error_object ~= nil then problems[#problems + 1] = "an earlier error is in a global" end
    return lk.verdict(problems)
  end,
}

-- The request object: its fields, the tables it builds (headers, query, params), its shared
-- metatable and its json method.
local lk = require "lk"
local MARK = lk.marker("request_object")

return {
  ["GET /request_object/plant"] = function(req)
    local out = {}
    lk.try(out, "req new key", function() req[MARK] = MARK end)
    lk.try(out, "rawset req", rawset, req, MARK .. "_raw", MARK)
    lk.try(out, "req.method", function() req.method = MARK end)
    lk.try(out, "req.json replaced", function() req.json = lk.evil(MARK) end)
    lk.try(out, "req.headers", function() req.headers[MARK] = MARK end)
    lk.try(out, "req.query", function() req.query[MARK] = MARK end)
    lk.try(out, "req.params", function() req.params[MARK] = MARK end)
    lk.try(out, "setmetatable(req)", setmetatable, req, { __index = function() return MARK end })
    lk.try(out, "getmetatable(req).__index", function() getmetatable(req).__index = function() return MARK end end)
    lk.try(out, "setfenv(req.json)", setfenv, req.json, { [MARK] = MARK })
    lk.try(out, "req kept in a global", function() LEAK_request_object_req = req end)
    return lk.report(out)
  end,

  ["GET /request_object/probe"] = function(req)
    local problems = {}
    if req[MARK] ~= nil or rawget(req, MARK .. "_raw") ~= nil then problems[#problems + 1] = "req holds " .. MARK end
    if req.method ~= "GET" then problems[#problems + 1] = "req.method is " .. tostring(req.method) end
    if req.path ~= "/request_object/probe" then problems[#problems + 1] = "req.path is " .. tostring(req.path) end
    if type(req.json) ~= "function" or lk.is_evil(req.json) then problems[#problems + 1] = "req.json was replaced" end
    if req.headers[MARK] ~= nil or req.query[MARK] ~= nil or req.params[MARK] ~= nil then
      problems[#problems + 1] = "req.headers/query/params hold " .. MARK
    end
    if next(req.params) ~= nil then problems[#problems + 1] = "req.params is not empty" end
    if getmetatable(req) ~= "mayfly: request" then problems[#problems + 1] = "getmetatable(req) is " .. tostring(getmetatable(req)) end
    if req.LEAK_missing_field ~= nil then problems[#problems + 1] = "req answers a missing field" end
    if LEAK_request_object_req ~= nil then problems[#problems + 1] = "an earlier req is in a global" end
    for k in pairs(req) do
      if type(k) ~= "string" or k:find("LEAK", 1, true) then problems[#problems + 1] = "req has key " .. tostring(k) end
    end
    return lk.verdict(problems)
  end,
}

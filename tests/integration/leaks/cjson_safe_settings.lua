-- The same for cjson.safe, which answers errors with nil, message instead of raising.
local lk = require "lk"
local MARK = lk.marker("cjson_safe_settings")
local shared = require "leak_cjson"

return {
  ["GET /cjson_safe_settings/plant"] = function(req)
    local out = {}
    shared.plant(out, require "cjson.safe", MARK)
    return lk.report(out)
  end,

  ["GET /cjson_safe_settings/probe"] = function(req)
    local problems = {}
    local safe = require "cjson.safe"
    shared.probe(problems, safe, "cjson.safe", MARK)
    local v, err = safe.decode("{bad")
    if v ~= nil or type(err) ~= "string" then problems[#problems + 1] = "cjson.safe.decode raises or accepts bad JSON" end
    local s, err2 = safe.encode({ [1] = 1, [20] = 2 })
    if s ~= nil then problems[#problems + 1] = "cjson.safe encodes a sparse array: " .. tostring(s) end
    return lk.verdict(problems)
  end,
}

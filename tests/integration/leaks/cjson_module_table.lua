-- The table require "cjson" returns: replacing its functions, setmetatable on it, and the
-- per-request cache of require.
local lk = require "lk"
local MARK = lk.marker("cjson_module_table")

return {
  ["GET /cjson_module_table/plant"] = function(req)
    local out = {}
    local cjson = require "cjson"
    lk.write_all_ways(out, "cjson", cjson, "decode", MARK, nil)
    lk.try(out, "setmetatable", setmetatable, cjson, { __index = function() return lk.evil(MARK) end })
    lk.try(out, "getfenv(cjson.encode) write", function() getfenv(cjson.encode)[MARK] = MARK end)
    lk.try(out, "setfenv(cjson.encode)", setfenv, cjson.encode, { [MARK] = MARK })
    return lk.report(out)
  end,

  ["GET /cjson_module_table/probe"] = function(req)
    local problems = {}
    local cjson = require "cjson"
    if not rawequal(cjson, require "cjson") then problems[#problems + 1] = "require 'cjson' twice gave two tables" end
    lk.check_table(problems, "cjson", cjson, MARK)
    if getmetatable(cjson) ~= nil then problems[#problems + 1] = "cjson has a metatable" end
    local ok, v = pcall(cjson.decode, '{"a":[1,2]}')
    if not ok or type(v) ~= "table" or v.a[2] ~= 2 then problems[#problems + 1] = "cjson.decode misbehaves" end
    lk.check_table(problems, "getfenv(cjson.encode)", getfenv(cjson.encode), MARK)
    return lk.verdict(problems)
  end,
}

-- mayfly.json: replacing encode/decode/null, new keys, every write path; and that the shared
-- encoder's settings (never exposed) are the defaults.
local lk = require "lk"
local MARK = lk.marker("host_mayfly_json")

return {
  ["GET /host_mayfly_json/plant"] = function(req)
    local out = {}
    local json = mayfly.json
    lk.write_all_ways(out, "mayfly.json", json, "encode", MARK, "mayfly.json")
    lk.try(out, "decode replaced", function() json.decode = lk.evil(MARK) end)
    lk.try(out, "null replaced", function() json.null = MARK end)
    lk.try(out, "settings function", function() json.encode_number_precision(3) end)
    lk.try(out, "settings via new()", function() json.new().encode_number_precision(3) end)
    lk.try(out, "require 'mayfly.json'", function() require("mayfly.json").encode = lk.evil(MARK) end)
    return lk.report(out)
  end,

  ["GET /host_mayfly_json/probe"] = function(req)
    local problems = {}
    local json = mayfly.json
    lk.check_table(problems, "mayfly.json", json, MARK)
    local ok, s = pcall(json.encode, { a = 1 })
    if not ok or s ~= '{"a":1}' then problems[#problems + 1] = "encode({a=1}) is " .. tostring(s) end
    ok, s = pcall(json.encode, 1 / 3)
    if not ok or s ~= "0.33333333333333" then problems[#problems + 1] = "encode(1/3) is " .. tostring(s) end
    ok, s = pcall(json.encode, { [1] = 1, [20] = 2 })
    if ok then problems[#problems + 1] = "a sparse array encodes: " .. tostring(s) end
    ok, s = pcall(json.decode, "[1,2]")
    if not ok or type(s) ~= "table" or s[2] ~= 2 then problems[#problems + 1] = "decode('[1,2]') misbehaves" end
    if json.null ~= redis.null or type(json.null) ~= "userdata" then
      problems[#problems + 1] = "mayfly.json.null is " .. tostring(json.null)
    end
    return lk.verdict(problems)
  end,
}

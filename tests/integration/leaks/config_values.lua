-- Values config.get returns: strings, and tables from config.json (read-only, or copies the
-- script may change): changing them must not reach the next request. The isolation test
-- configures greeting = "hello", obj = {a = 1, list = {1, 2, 3}}, arr = {1, 2}; without a config
-- folder the probe only looks for the marker.
local lk = require "lk"
local MARK = lk.marker("config_values")

local expected = { greeting = "hello", overridden = "from-env", leak_duration = "5s", leak_bool = "yes" }

return {
  ["GET /config_values/plant"] = function(req)
    local out = {}
    local obj, arr = config.get("obj"), config.get("arr")
    if type(obj) == "table" then
      lk.write_all_ways(out, "config.get('obj')", obj, "a", MARK)
      lk.try(out, "obj.list", function() obj.list[1] = MARK end)
      lk.try(out, "table.insert obj.list", table.insert, obj.list, MARK)
    else
      out[#out + 1] = "no 'obj' in the config: " .. tostring(obj)
    end
    if type(arr) == "table" then
      lk.write_all_ways(out, "config.get('arr')", arr, nil, MARK)
      lk.try(out, "table.insert arr", table.insert, arr, MARK)
      lk.try(out, "table.remove arr", table.remove, arr, 1)
      lk.try(out, "table.sort arr", table.sort, arr, function(a, b) return a > b end)
    end
    local default = { mode = "default" }
    lk.try(out, "default value", function() config.get("leak_no_such_key", default).mode = MARK end)
    return lk.report(out)
  end,

  ["GET /config_values/probe"] = function(req)
    local problems = {}
    local obj, arr = config.get("obj"), config.get("arr")
    if obj ~= nil then
      lk.check_table(problems, "config.get('obj')", obj, MARK)
      if obj.a ~= 1 then problems[#problems + 1] = "obj.a is " .. tostring(obj.a) end
      local l = obj.list
      if type(l) ~= "table" or l[1] ~= 1 or l[2] ~= 2 or l[3] ~= 3 or l[4] ~= nil then
        problems[#problems + 1] = "obj.list changed"
      end
      lk.check_table(problems, "obj.list", l, MARK)
    end
    if arr ~= nil then
      lk.check_table(problems, "config.get('arr')", arr, MARK)
      local seen = {}
      for i, v in ipairs(arr) do seen[#seen + 1] = tostring(v) end
      if table.concat(seen, ",") ~= "1,2" then problems[#problems + 1] = "arr is " .. table.concat(seen, ",") end
    end
    for k, v in pairs(expected) do
      local got = config.get(k)
      if got ~= nil and got ~= v then problems[#problems + 1] = k .. " is " .. tostring(got) end
    end
    if config.get("leak_no_such_key", { mode = "default" }).mode ~= "default" then
      problems[#problems + 1] = "a default value changed"
    end
    return lk.verdict(problems)
  end,
}

-- config.all(): a fresh copy each call; mutating one must show neither in the next call nor in
-- the next request.
local lk = require "lk"
local MARK = lk.marker("config_all_copy")

return {
  ["GET /config_all_copy/plant"] = function(req)
    local out = {}
    local all = config.all()
    lk.try(out, "new key", function() all[MARK] = MARK end)
    lk.try(out, "every key overwritten", function()
      for k in pairs(config.all()) do all[k] = MARK end
    end)
    lk.try(out, "nested obj.a", function() all.obj.a = MARK end)
    lk.try(out, "nested obj.list", function() table.insert(all.obj.list, MARK) end)
    lk.try(out, "arr", function() all.arr[3] = MARK end)
    lk.try(out, "setmetatable", setmetatable, config.all(), { __index = function() return MARK end })
    local again = config.all()
    lk.try(out, "second copy nested", function() again.obj.list[1] = MARK end)
    return lk.report(out)
  end,

  ["GET /config_all_copy/probe"] = function(req)
    local problems = {}
    local a, b = config.all(), config.all()
    if rawequal(a, b) then problems[#problems + 1] = "config.all() returned one table twice" end
    if type(a.obj) == "table" and rawequal(a.obj, b.obj) then problems[#problems + 1] = "config.all() shares nested tables" end
    local function walk(t, path)
      for k, v in pairs(t) do
        if k == MARK or v == MARK then problems[#problems + 1] = path .. "." .. tostring(k) .. " = " .. tostring(v) end
        if type(v) == "table" then walk(v, path .. "." .. tostring(k)) end
      end
      if getmetatable(t) ~= nil then problems[#problems + 1] = path .. " has a metatable" end
    end
    walk(a, "config.all()")
    for k, v in pairs(a) do
      if type(v) ~= "table" and config.get(k) ~= v then
        problems[#problems + 1] = "config.all()." .. k .. " is " .. tostring(v) .. " but config.get gives " .. tostring(config.get(k))
      end
    end
    if a.greeting ~= nil and a.greeting ~= "hello" then problems[#problems + 1] = "greeting is " .. tostring(a.greeting) end
    if a.obj ~= nil and (a.obj.a ~= 1 or #a.obj.list ~= 3) then problems[#problems + 1] = "obj changed" end
    if a.arr ~= nil and #a.arr ~= 2 then problems[#problems + 1] = "arr has " .. #a.arr .. " items" end
    return lk.verdict(problems)
  end,
}

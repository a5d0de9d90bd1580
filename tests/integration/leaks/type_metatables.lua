-- Metatables of the other types, shared process-wide (numbers, booleans, nil, functions,
-- threads, light userdata such as redis.null and cjson.null).
local lk = require "lk"
local MARK = lk.marker("type_metatables")

local function samples()
  return {
    { "number", 1 }, { "boolean", true }, { "nil", nil }, { "function", print },
    { "lua function", function() end }, { "thread", coroutine.create(print) },
    { "redis.null", redis.null }, { "mayfly.json.null", mayfly.json.null },
  }
end

return {
  ["GET /type_metatables/plant"] = function(req)
    local out = {}
    local mt = { __index = { [MARK] = MARK }, __call = lk.evil(MARK), __add = lk.evil(MARK) }
    for _, s in ipairs(samples()) do
      lk.try(out, "setmetatable(" .. s[1] .. ")", setmetatable, s[2], mt)
      lk.try(out, "write into getmetatable(" .. s[1] .. ")", function() getmetatable(s[2]).__index = mt.__index end)
    end
    lk.try(out, "debug.setmetatable", function() debug.setmetatable(0, mt) end)
    lk.try(out, "debug.getmetatable", function() debug.getmetatable(0).x = 1 end)
    return lk.report(out)
  end,

  ["GET /type_metatables/probe"] = function(req)
    local problems = {}
    for _, s in ipairs(samples()) do
      if getmetatable(s[2]) ~= nil then
        problems[#problems + 1] = s[1] .. " has a metatable: " .. tostring(getmetatable(s[2]))
      end
      local ok, v = pcall(function() return s[2][MARK] end)
      if ok then problems[#problems + 1] = s[1] .. " can be indexed: " .. tostring(v) end
    end
    local ok, v = pcall(function() return (1)() end)
    if ok then problems[#problems + 1] = "numbers are callable" end
    ok, v = pcall(function() return true + 1 end)
    if ok then problems[#problems + 1] = "true + 1 is " .. tostring(v) end
    if type(redis.null) ~= "userdata" then problems[#problems + 1] = "redis.null is a " .. type(redis.null) end
    return lk.verdict(problems)
  end,
}

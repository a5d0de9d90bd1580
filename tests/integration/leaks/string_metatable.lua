-- The metatable of strings (shared by every string of the process): getmetatable("") and its
-- __index, new metamethods (__add, __concat, __call, ...), rawset, setmetatable.
local lk = require "lk"
local MARK = lk.marker("string_metatable")

return {
  ["GET /string_metatable/plant"] = function(req)
    local out = {}
    local mt = getmetatable("")
    local evil = lk.evil(MARK)
    lk.try(out, "type of getmetatable('')", function() error(type(mt), 0) end)
    lk.try(out, "__index replaced", function() mt.__index = { [MARK] = MARK, upper = evil } end)
    lk.try(out, "__index function", function() mt.__index = evil end)
    lk.try(out, "write through __index", function() mt.__index[MARK] = MARK end)
    lk.try(out, "method replaced through __index", function() mt.__index.upper = evil end)
    for _, mm in ipairs { "__add", "__concat", "__call", "__len", "__eq", "__lt", "__unm", "__newindex", "__tostring" } do
      lk.try(out, mm, function() mt[mm] = evil end)
    end
    lk.try(out, "rawset __add", rawset, mt, "__add", evil)
    lk.try(out, "rawset __index", rawset, mt, "__index", { [MARK] = MARK })
    lk.try(out, "table.insert", table.insert, mt, evil)
    lk.try(out, "setmetatable(mt)", setmetatable, mt, { __index = function() return evil end })
    lk.try(out, "setmetatable('')", setmetatable, "", { __index = { [MARK] = MARK } })
    lk.try(out, "string method assignment", function() ("x")[MARK] = MARK end)
    lk.try(out, "getmetatable('x').__index.format", function() getmetatable("x").__index.format = evil end)
    return lk.report(out)
  end,

  ["GET /string_metatable/probe"] = function(req)
    local problems = {}
    local mt = getmetatable("")
    if type(mt) ~= "table" then
      problems[#problems + 1] = "getmetatable('') is a " .. type(mt)
    else
      for k, v in pairs(mt) do
        if k ~= "__index" then problems[#problems + 1] = "the string metatable has " .. tostring(k) end
      end
      if not rawequal(mt.__index, string) then problems[#problems + 1] = "its __index is not string" end
      lk.check_table(problems, "getmetatable('')", mt, MARK)
    end
    if ("abc"):upper() ~= "ABC" then problems[#problems + 1] = "('abc'):upper() is " .. tostring(("abc"):upper()) end
    if ("%d"):format(3) ~= "3" then problems[#problems + 1] = "('%d'):format misbehaves" end
    if ("x")[MARK] ~= nil then problems[#problems + 1] = "strings have " .. MARK end
    if ("x").LEAK_missing ~= nil then problems[#problems + 1] = "strings answer a missing method" end
    local ok, v = pcall(function() return "a" + {} end)
    if ok then problems[#problems + 1] = "string + table gives " .. tostring(v) end
    ok, v = pcall(function() return "a" .. {} end)
    if ok then problems[#problems + 1] = "string .. table gives " .. tostring(v) end
    ok, v = pcall(function() return ("a")() end)
    if ok then problems[#problems + 1] = "strings are callable: " .. tostring(v) end
    ok, v = pcall(function() return -"a" end)
    if ok then problems[#problems + 1] = "-'a' gives " .. tostring(v) end
    if "10" + 1 ~= 11 or #"abc" ~= 3 or "a" .. "b" ~= "ab" or not ("a" < "b") then
      problems[#problems + 1] = "string arithmetic, length, concatenation or comparison changed"
    end
    return lk.verdict(problems)
  end,
}

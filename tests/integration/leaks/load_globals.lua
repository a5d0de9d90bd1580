-- Code compiled at run time with load/loadstring (text, a reader function, a chunk that
-- returns a closure) setting globals and writing into shared tables.
local lk = require "lk"
local MARK = lk.marker("load_globals")

return {
  ["GET /load_globals/plant"] = function(req)
    local out = {}
    lk.try(out, "load text", function() assert(load("LEAK_load_globals = ..."))(MARK) end)
    lk.try(out, "loadstring", function() assert(loadstring("LEAK_load_globals_ls = ..."))(MARK) end)
    lk.try(out, "load reader", function()
      local parts = { "LEAK_load_globals_reader", " = ", "...", nil }
      local i = 0
      assert(load(function() i = i + 1 return parts[i] end, "=reader"))(MARK)
    end)
    lk.try(out, "load mode t", function() assert(load("LEAK_load_globals_t = ...", "=t", "t"))(MARK) end)
    lk.try(out, "closure from load", function()
      assert(load("return function(v) LEAK_load_globals_closure = v end"))()(MARK)
    end)
    lk.try(out, "chunkname =[C]", function() assert(load("LEAK_load_globals_c = ...", "=[C]"))(MARK) end)
    lk.try(out, "load writing string", function() assert(load("string.LEAK_load_globals = ..."))(MARK) end)
    lk.try(out, "load writing _G._G", function() assert(load("_G._G.LEAK_load_globals_gg = ..."))(MARK) end)
    return lk.report(out)
  end,

  ["GET /load_globals/probe"] = function(req)
    local problems = {}
    for _, s in ipairs { "", "_ls", "_reader", "_t", "_closure", "_c", "_gg" } do
      if _G["LEAK_load_globals" .. s] ~= nil then problems[#problems + 1] = "LEAK_load_globals" .. s .. " is set" end
    end
    local f = assert(load("return getfenv(0), getfenv(1), LEAK_load_globals"))
    local e0, e1, v = f()
    if not rawequal(e0, _G) or not rawequal(e1, _G) then problems[#problems + 1] = "a load() chunk runs in another environment" end
    if v ~= nil then problems[#problems + 1] = "a load() chunk sees " .. tostring(v) end
    if string.LEAK_load_globals ~= nil then problems[#problems + 1] = "string.LEAK_load_globals is set" end
    return lk.verdict(problems)
  end,
}

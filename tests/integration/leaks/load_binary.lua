-- Binary chunks: string.dump of a script's function and of host functions, loaded back with
-- every mode and through loadstring; a crafted bytecode header.
local lk = require "lk"
local MARK = lk.marker("load_binary")

return {
  ["GET /load_binary/plant"] = function(req)
    local out = {}
    local code = string.dump(function(v) LEAK_load_binary = v end)
    lk.try(out, "load(dump)", function() assert(load(code))(MARK) end)
    lk.try(out, "load(dump, mode b)", function() assert(load(code, "=b", "b"))(MARK) end)
    lk.try(out, "load(dump, mode bt)", function() assert(load(code, "=bt", "bt"))(MARK) end)
    lk.try(out, "loadstring(dump)", function() assert(loadstring(code))(MARK) end)
    lk.try(out, "load(reader of dump)", function()
      local done = false
      assert(load(function() if done then return nil end done = true return code end))(MARK)
    end)
    lk.try(out, "load(dump of config.get)", function() assert(load(string.dump(config.get))) end)
    lk.try(out, "load(dump of string.len)", function() assert(load(string.dump(string.len))) end)
    lk.try(out, "load(crafted bytecode)", function() assert(load("\27LJ\2\0\0\0\0\0\0", "=x", "b")) end)
    lk.try(out, "load(text with a binary mode)", function() assert(load("LEAK_load_binary = ...", "=x", "b"))(MARK) end)
    return lk.report(out)
  end,

  ["GET /load_binary/probe"] = function(req)
    local problems = {}
    if LEAK_load_binary ~= nil then problems[#problems + 1] = "LEAK_load_binary is " .. tostring(LEAK_load_binary) end
    return lk.verdict(problems)
  end,
}

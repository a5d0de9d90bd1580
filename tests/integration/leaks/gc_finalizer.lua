-- Finalizers (__gc) that would run in a later request, where they could write into that
-- request's environment (getfenv(0) is whichever request is running then).
local lk = require "lk"
local MARK = lk.marker("gc_finalizer")

return {
  ["GET /gc_finalizer/plant"] = function(req)
    local out = {}
    local function finalizer()
      rawset(getfenv(0), "LEAK_gc_finalizer", MARK)
      getfenv(0).LEAK_gc_finalizer_2 = MARK
    end
    lk.try(out, "__gc on tables", function()
      for _ = 1, 200 do setmetatable({}, { __gc = finalizer }) end
    end)
    lk.try(out, "newproxy with __gc", function()
      local p = newproxy(true)
      getmetatable(p).__gc = finalizer
    end)
    lk.try(out, "__gc on a weak table's values", function()
      local weak = setmetatable({}, { __mode = "v" })
      for i = 1, 200 do weak[i] = setmetatable({}, { __gc = finalizer }) end
    end)
    return lk.report(out)
  end,

  ["GET /gc_finalizer/probe"] = function(req)
    local problems = {}
    lk.run_gc(2, 16 * 1024)
    if rawget(_G, "LEAK_gc_finalizer") ~= nil or rawget(_G, "LEAK_gc_finalizer_2") ~= nil then
      problems[#problems + 1] = "a finalizer of an earlier request wrote into this one"
    end
    return lk.verdict(problems)
  end,
}

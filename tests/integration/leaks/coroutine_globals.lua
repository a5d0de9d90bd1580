-- Coroutines kept in globals and in _G: suspended ones with state in their locals, wrapped
-- generators, a coroutine left suspended inside a pcall.
local lk = require "lk"
local MARK = lk.marker("coroutine_globals")

return {
  ["GET /coroutine_globals/plant"] = function(req)
    local out = {}
    lk.try(out, "suspended coroutine in a global", function()
      LEAK_coroutine_globals_co = coroutine.create(function()
        local state = MARK
        while true do coroutine.yield(state) end
      end)
      assert(coroutine.resume(LEAK_coroutine_globals_co))
    end)
    lk.try(out, "generator in _G", function()
      local n = 0
      _G.LEAK_coroutine_globals_gen = coroutine.wrap(function()
        while true do n = n + 1 coroutine.yield(n) end
      end)
      for _ = 1, 3 do _G.LEAK_coroutine_globals_gen() end
    end)
    lk.try(out, "coroutine suspended in pcall", function()
      local co = coroutine.create(function() pcall(coroutine.yield, MARK) end)
      coroutine.resume(co)
      rawset(_G, "LEAK_coroutine_globals_pcall", co)
    end)
    return lk.report(out)
  end,

  ["GET /coroutine_globals/probe"] = function(req)
    local problems = {}
    for _, n in ipairs { "LEAK_coroutine_globals_co", "LEAK_coroutine_globals_gen", "LEAK_coroutine_globals_pcall" } do
      if _G[n] ~= nil then problems[#problems + 1] = n .. " is " .. tostring(_G[n]) end
    end
    local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
    if gen() ~= 1 or gen() ~= 2 then problems[#problems + 1] = "a new coroutine misbehaves" end
    -- The handler's own coroutine is reused run after run: its globals must be this request's.
    if getfenv(0) ~= _G then problems[#problems + 1] = "the handler's thread has another request's globals" end
    return lk.verdict(problems)
  end,
}

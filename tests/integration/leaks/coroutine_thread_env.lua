-- The thread environment of coroutines (getfenv(0) inside them, which load() chunks and
-- coroutines created there inherit): replaced inside a coroutine that stays suspended, and in
-- the main thread before a coroutine is made.
local lk = require "lk"
local MARK = lk.marker("coroutine_thread_env")

local function marked_env()
  return setmetatable({ LEAK_coroutine_thread_env = MARK }, { __index = _G })
end

return {
  ["GET /coroutine_thread_env/plant"] = function(req)
    local out = {}
    lk.try(out, "setfenv(0) in a suspended coroutine", function()
      local co = coroutine.create(function()
        setfenv(0, marked_env())
        assert(load("LEAK_coroutine_thread_env_load = ..."))(MARK)
        coroutine.yield()
      end)
      assert(coroutine.resume(co))
    end)
    lk.try(out, "setfenv(0) then a coroutine", function()
      setfenv(0, marked_env())
      local co = coroutine.wrap(function() coroutine.yield(getfenv(0)) end)
      co()
    end)
    lk.try(out, "setfenv(0) inside a nested coroutine", function()
      coroutine.wrap(function()
        coroutine.wrap(function() setfenv(0, marked_env()) coroutine.yield() end)()
      end)()
    end)
    return lk.report(out)
  end,

  ["GET /coroutine_thread_env/probe"] = function(req)
    local problems = {}
    local env, loaded = coroutine.wrap(function()
      return getfenv(0), assert(load("return LEAK_coroutine_thread_env, LEAK_coroutine_thread_env_load"))
    end)()
    if not rawequal(env, _G) then problems[#problems + 1] = "a coroutine's getfenv(0) is not _G" end
    local v1, v2 = loaded()
    if v1 ~= nil or v2 ~= nil then problems[#problems + 1] = "a load() chunk in a coroutine sees " .. tostring(v1 or v2) end
    if not rawequal(getfenv(0), _G) then problems[#problems + 1] = "getfenv(0) is not _G" end
    if LEAK_coroutine_thread_env ~= nil or LEAK_coroutine_thread_env_load ~= nil then
      problems[#problems + 1] = "a global of the plant is visible"
    end
    return lk.verdict(problems)
  end,
}

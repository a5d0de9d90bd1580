-- Replacing environments with setfenv: the thread's (level 0, which load() chunks and coroutines
-- inherit), the handler's (1) and the caller's (2, the host).
local lk = require "lk"
local MARK = lk.marker("globals_setfenv")

local function env_with_mark(suffix)
  return setmetatable({ [MARK] = MARK .. suffix, LEAK_globals_setfenv = MARK }, { __index = _G })
end

return {
  ["GET /globals_setfenv/plant"] = function(req)
    local out = {}
    lk.try(out, "setfenv(0)", setfenv, 0, env_with_mark("_0"))
    lk.try(out, "global in load() after setfenv(0)", function()
      assert(load("LEAK_globals_setfenv_load = ...; return getfenv(0)"))(MARK)
    end)
    lk.try(out, "setfenv(0) in a coroutine", function()
      coroutine.wrap(function() setfenv(0, env_with_mark("_co")) coroutine.yield() end)()
    end)
    -- Called by pcall, setfenv counts pcall as level 1: level + 1 is `level` from here (1: this
    -- handler, 2: the host's dispatch).
    for level = 3, 1, -1 do
      local ok, err = pcall(setfenv, level + 1, env_with_mark("_" .. level))
      out[#out + 1] = "setfenv(" .. level .. "): " .. (ok and "planted" or "refused: " .. tostring(err))
    end
    lk.try(out, "global after setfenv(1)", function() LEAK_globals_setfenv_after = MARK end)
    return lk.report(out)
  end,

  ["GET /globals_setfenv/probe"] = function(req)
    local problems = {}
    if not rawequal(getfenv(0), _G) then problems[#problems + 1] = "getfenv(0) is not _G" end
    if not rawequal(getfenv(1), _G) then problems[#problems + 1] = "getfenv(1) is not _G" end
    local loaded = assert(load("return getfenv(0), getfenv(1), LEAK_globals_setfenv"))
    local e0, e1, v = loaded()
    if not rawequal(e0, _G) or not rawequal(e1, _G) then
      problems[#problems + 1] = "a load() chunk runs in another environment"
    end
    if v ~= nil then problems[#problems + 1] = "load() chunk sees " .. tostring(v) end
    local co_env = coroutine.wrap(function() return getfenv(0) end)()
    if not rawequal(co_env, _G) then problems[#problems + 1] = "a coroutine has another getfenv(0)" end
    for _, n in ipairs { "LEAK_globals_setfenv", "LEAK_globals_setfenv_load",
      "LEAK_globals_setfenv_after", MARK } do
      if _G[n] ~= nil then problems[#problems + 1] = n .. " = " .. tostring(_G[n]) end
    end
    for level = 0, 3 do
      local ok, e = pcall(getfenv, level == 0 and 0 or level + 1)
      if ok then lk.check_table(problems, "getfenv(" .. level .. ")", e, MARK) end
    end
    return lk.verdict(problems)
  end,
}

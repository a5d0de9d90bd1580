-- mayfly.constant runs its function detached, in an environment of its own that it sets on the
-- function for the call: given a host module's Lua function (shared by every request: redis.call,
-- lease.token, ...), or one that yields or fails, the function must get its own environment back
-- and the module keep working; a constant of a host function is the host's value, not a store.
local lk = require "lk"
local MARK = lk.marker("constant_host_functions")

local function lua_functions(req)
  local list = {}
  local fns = lk.reachable(req)
  for _, f in ipairs(fns) do
    -- Lua functions only: string.dump works on them.
    if pcall(string.dump, f[2]) then list[#list + 1] = f end
  end
  return list
end

return {
  ["GET /constant_host_functions/plant"] = function(req)
    local out = {}
    LEAK_constant_host_functions = MARK
    for _, f in ipairs(lua_functions(req)) do
      lk.try(out, "mayfly.constant(" .. f[1] .. ")", mayfly.constant, f[2])
    end
    -- (No upvalue: the marker is spelled out, as a constant's function may not see MARK.)
    lk.try(out, "a constant that yields", mayfly.constant, function()
      LEAK_constant_host_functions = "LEAK_constant_host_functions"
      coroutine.yield("LEAK_constant_host_functions")
    end)
    lk.try(out, "a constant that fails", mayfly.constant, function()
      LEAK_constant_host_functions = "LEAK_constant_host_functions"
      error("LEAK_constant_host_functions")
    end)
    lk.try(out, "a constant that sets globals", mayfly.constant, function()
      LEAK_constant_host_functions = "LEAK_constant_host_functions"
      _G.LEAK_constant_host_functions_G = "LEAK_constant_host_functions"
      return 1
    end)
    return lk.report(out)
  end,

  ["GET /constant_host_functions/probe"] = function(req)
    local problems = {}
    for _, f in ipairs(lua_functions(req)) do
      local ok, env = pcall(getfenv, f[2])
      if ok then
        local why = lk.unsafe_env(env)
        if why then problems[#problems + 1] = "getfenv(" .. f[1] .. ") is unsafe: " .. why end
        lk.check_table(problems, "getfenv(" .. f[1] .. ")", env, MARK)
        if type(env) == "table" and rawget(env, "LEAK_constant_host_functions") ~= nil then
          problems[#problems + 1] = "getfenv(" .. f[1] .. ") holds a planted global"
        end
      end
    end
    if LEAK_constant_host_functions ~= nil or LEAK_constant_host_functions_G ~= nil then
      problems[#problems + 1] = "a planted global is visible"
    end
    local ok, v = pcall(config.get, "greeting", "default")
    if not ok or (v ~= "hello" and v ~= "default") then problems[#problems + 1] = "config.get misbehaves: " .. tostring(v) end
    local okp, r = pcall(redis.pcall, "PING")
    if not okp then problems[#problems + 1] = "redis.pcall raised: " .. tostring(r) end
    return lk.verdict(problems)
  end,
}

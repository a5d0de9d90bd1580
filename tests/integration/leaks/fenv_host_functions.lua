-- setfenv and getfenv on named host functions: C functions (print, require, ...), the host's
-- Lua functions (config.*), the request's json method.
local lk = require "lk"
local MARK = lk.marker("fenv_host_functions")

local function fns(req)
  return {
    { "print", print }, { "require", require }, { "pcall", pcall }, { "tostring", tostring },
    { "setfenv", setfenv }, { "getfenv", getfenv }, { "load", load },
    { "string.format", string.format }, { "string.len", string.len }, { "string.rep", string.rep },
    { "table.remove", table.remove }, { "table.insert", table.insert }, { "table.getn", table.getn },
    { "math.deg", math.deg }, { "coroutine.wrap", coroutine.wrap }, { "debug.traceback", debug.traceback },
    { "config.get", config.get }, { "config.all", config.all }, { "config.duration", config.duration },
    { "log.info", log.info }, { "redis.call", redis.call }, { "mayfly.json.encode", mayfly.json.encode },
    { "req.json", req.json },
  }
end

return {
  ["GET /fenv_host_functions/plant"] = function(req)
    local out = {}
    for _, f in ipairs(fns(req)) do
      lk.try(out, "setfenv(" .. f[1] .. ")", setfenv, f[2],
        setmetatable({ [MARK] = MARK }, { __index = getfenv(0) }))
      lk.try(out, "getfenv(" .. f[1] .. ") write", function() getfenv(f[2])[MARK .. "_get"] = MARK end)
    end
    return lk.report(out)
  end,

  ["GET /fenv_host_functions/probe"] = function(req)
    local problems = {}
    for _, f in ipairs(fns(req)) do
      local e = getfenv(f[2])
      local ok, v = pcall(function() return e[MARK .. "_get"] end)
      if ok and v ~= nil then problems[#problems + 1] = "getfenv(" .. f[1] .. ") holds " .. MARK .. "_get" end
      lk.check_table(problems, "getfenv(" .. f[1] .. ")", e, MARK)
      local why = lk.unsafe_env(e)
      if why then problems[#problems + 1] = "getfenv(" .. f[1] .. ") is unsafe: " .. why end
    end
    return lk.verdict(problems)
  end,
}

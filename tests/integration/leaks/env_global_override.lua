-- Shadowing the shared globals in the environment: the libraries, the host tables, the base
-- functions and _G itself.
local lk = require "lk"
local MARK = lk.marker("env_global_override")

local names = { "string", "table", "math", "os", "coroutine", "bit", "debug", "mayfly", "redis",
  "log", "config", "print", "tostring", "tonumber", "type", "pairs", "ipairs", "next", "pcall",
  "error", "require", "setmetatable", "getmetatable", "rawget", "rawset", "getfenv", "setfenv",
  "load", "loadstring", "select", "unpack", "assert", "xpcall", "collectgarbage", "_G" }

return {
  ["GET /env_global_override/plant"] = function(req)
    local out = {}
    local env = getfenv(0)
    local tostring = tostring
    for _, n in ipairs(names) do
      local replacement = (n == "string" or n == "mayfly" or n == "_G") and { [MARK] = MARK }
        or lk.evil(MARK)
      lk.try(out, "global " .. n .. " replaced", function() env[n] = replacement end)
    end
    lk.try(out, "global nil'ed", function() env.redis = nil env.print = nil end)
    return lk.report(out)
  end,

  ["GET /env_global_override/probe"] = function(req)
    local problems = {}
    local env = getfenv(0)
    for _, n in ipairs(names) do
      if rawget(env, n) ~= nil and n ~= "_G" then
        problems[#problems + 1] = "the environment holds its own " .. n
      end
      if lk.is_evil(env[n]) then problems[#problems + 1] = n .. " is a planted function" end
    end
    if not rawequal(_G, env) then problems[#problems + 1] = "_G is not the environment" end
    if tostring(12) ~= "12" then problems[#problems + 1] = "tostring(12) is " .. tostring(12) end
    if type(string) ~= "table" or type(string.format) ~= "function" or string[MARK] then
      problems[#problems + 1] = "string is not the library"
    end
    if type(mayfly) ~= "table" or type(mayfly.json) ~= "table" or mayfly[MARK] then
      problems[#problems + 1] = "mayfly is not the host table"
    end
    for _, n in ipairs { "redis", "log", "config", "table", "math", "os", "coroutine", "bit", "debug" } do
      if type(env[n]) ~= "table" then problems[#problems + 1] = n .. " is a " .. type(env[n]) end
    end
    for _, n in ipairs { "print", "pairs", "require", "pcall", "error", "getfenv", "load" } do
      if type(env[n]) ~= "function" then problems[#problems + 1] = n .. " is a " .. type(env[n]) end
    end
    return lk.verdict(problems)
  end,
}

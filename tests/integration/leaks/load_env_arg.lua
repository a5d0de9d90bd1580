-- load with an environment argument (and setfenv on a loaded chunk): pointing compiled code at
-- the host's tables so that its globals write into them.
local lk = require "lk"
local MARK = lk.marker("load_env_arg")

local function targets()
  return {
    { "string", string }, { "mayfly", mayfly }, { "config", config }, { "redis", redis },
    { "getmetatable('')", getmetatable("") }, { "getfenv(config.get)", getfenv(config.get) },
    { "getfenv(print)", getfenv(print) },
  }
end

return {
  ["GET /load_env_arg/plant"] = function(req)
    local out = {}
    for _, t in ipairs(targets()) do
      lk.try(out, "load with env " .. t[1], function()
        assert(load("LEAK_load_env_arg = ...", "=env", "t", t[2]))(MARK)
      end)
      lk.try(out, "setfenv(loaded chunk, " .. t[1] .. ")", function()
        setfenv(assert(loadstring("LEAK_load_env_arg = ...")), t[2])(MARK)
      end)
    end
    return lk.report(out)
  end,

  ["GET /load_env_arg/probe"] = function(req)
    local problems = {}
    for _, t in ipairs(targets()) do
      local ok, v = pcall(function() return t[2].LEAK_load_env_arg end)
      if ok and v ~= nil then problems[#problems + 1] = t[1] .. ".LEAK_load_env_arg is " .. tostring(v) end
      lk.check_table(problems, t[1], t[2], MARK)
    end
    if LEAK_load_env_arg ~= nil then problems[#problems + 1] = "the global LEAK_load_env_arg is set" end
    return lk.verdict(problems)
  end,
}

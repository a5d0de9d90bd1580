-- Globals written through the environments getfenv gives: levels 0 to 8, no argument, and host
-- C functions (whose real environment is the host's global table).
local lk = require "lk"
local MARK = lk.marker("globals_getfenv")

local host_fns = {
  print = print, require = require, pcall = pcall, getfenv = getfenv, setfenv = setfenv,
  tostring = tostring, ["string.format"] = string.format, ["log.info"] = log.info,
  ["redis.call"] = redis.call, ["mayfly.json.encode"] = mayfly.json.encode,
}

return {
  ["GET /globals_getfenv/plant"] = function(req)
    local out = {}
    lk.try(out, "getfenv()", function() getfenv()[MARK .. "_none"] = MARK end)
    for level = 0, 8 do
      -- Called by pcall, getfenv counts pcall as level 1: level + 1 is `level` from here.
      local ok, env = pcall(getfenv, level == 0 and 0 or level + 1)
      if ok then
        lk.try(out, "getfenv(" .. level .. ")", function() env[MARK .. "_" .. level] = MARK end)
      else
        out[#out + 1] = "getfenv(" .. level .. "): refused: " .. tostring(env)
      end
    end
    for name, f in pairs(host_fns) do
      lk.try(out, "getfenv(" .. name .. ")", function() getfenv(f)[MARK .. "_" .. name] = MARK end)
    end
    return lk.report(out)
  end,

  ["GET /globals_getfenv/probe"] = function(req)
    local problems = {}
    local names = { "_none" }
    for level = 0, 8 do names[#names + 1] = "_" .. level end
    for name in pairs(host_fns) do names[#names + 1] = "_" .. name end
    local envs = { { "getfenv()", getfenv() } }
    for level = 0, 8 do
      local ok, e = pcall(getfenv, level == 0 and 0 or level + 1)
      if ok then envs[#envs + 1] = { "getfenv(" .. level .. ")", e } end
    end
    for name, f in pairs(host_fns) do
      envs[#envs + 1] = { "getfenv(" .. name .. ")", getfenv(f) }
      if not rawequal(getfenv(f), getfenv(0)) then
        problems[#problems + 1] = "getfenv(" .. name .. ") is not the request environment"
      end
    end
    for _, e in ipairs(envs) do
      for _, n in ipairs(names) do
        local ok, v = pcall(function() return e[2][MARK .. n] end)
        if ok and v ~= nil then problems[#problems + 1] = e[1] .. " has " .. MARK .. n end
      end
      lk.check_table(problems, e[1], e[2], MARK)
    end
    return lk.verdict(problems)
  end,
}

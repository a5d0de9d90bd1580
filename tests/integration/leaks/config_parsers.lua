-- The config module's own state: the tables its parsers use (module-level locals: the units of
-- config.duration, the words of config.bool), reachable only through debug or the environments
-- of its functions. The isolation test configures leak_duration = "5s", leak_bool = "yes".
local lk = require "lk"
local MARK = lk.marker("config_parsers")

return {
  ["GET /config_parsers/plant"] = function(req)
    local out = {}
    lk.try(out, "debug.getupvalue", function() return debug.getupvalue(config.duration, 1) end)
    lk.try(out, "debug.setupvalue", function() return debug.setupvalue(config.duration, 1, {}) end)
    lk.try(out, "setfenv(config.duration)", setfenv, config.duration, { [MARK] = MARK })
    lk.try(out, "getfenv(config.duration) write", function() getfenv(config.duration).tonumber = lk.evil(MARK) end)
    lk.try(out, "getfenv(config.bool) rawset", function() rawset(getfenv(config.bool), "error", lk.evil(MARK)) end)
    -- If an escape to the host's globals exists, use its debug library on the upvalues.
    for _, e in ipairs(lk.escapes(req)) do
      local dbg = e[2].debug
      if type(dbg) == "table" and dbg.getupvalue then
        lk.try(out, "upvalues through " .. e[1], function()
          for _, f in ipairs { config.duration, config.bool } do
            for i = 1, 30 do
              local name, v = dbg.getupvalue(f, i)
              if not name then break end
              if name == "units" then v.s = 1000 end
              if name == "truthy" then v.yes = nil end
              if name == "falsy" then v.yes = true end
            end
          end
        end)
        break
      end
    end
    return lk.report(out)
  end,

  ["GET /config_parsers/probe"] = function(req)
    local problems = {}
    local ok, d
    if config.get("leak_duration") == "5s" then
      ok, d = pcall(config.duration, "leak_duration")
      if not ok or d ~= 5 then problems[#problems + 1] = "duration of 5s is " .. tostring(d) end
    end
    if config.get("leak_bool") == "yes" then
      ok, d = pcall(config.bool, "leak_bool")
      if not ok or d ~= true then problems[#problems + 1] = "bool of yes is " .. tostring(d) end
    end
    local e = getfenv(config.duration)
    lk.check_table(problems, "getfenv(config.duration)", e, MARK)
    if not lk.is_readonly(e) and not rawequal(e, getfenv(0)) then
      problems[#problems + 1] = "getfenv(config.duration) is writable"
    end
    return lk.verdict(problems)
  end,
}

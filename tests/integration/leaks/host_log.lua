-- The log table: replacing its functions, new keys, every write path.
local lk = require "lk"
local MARK = lk.marker("host_log")

return {
  ["GET /host_log/plant"] = function(req)
    local out = {}
    lk.write_all_ways(out, "log", log, "info", MARK, "log")
    lk.try(out, "log.error replaced", function() log.error = lk.evil(MARK) end)
    lk.try(out, "log.level", function() log.level = "debug" end)
    return lk.report(out)
  end,

  ["GET /host_log/probe"] = function(req)
    local problems = {}
    lk.check_table(problems, "log", log, MARK)
    for _, n in ipairs { "debug", "info", "warn", "error" } do
      if type(log[n]) ~= "function" then
        problems[#problems + 1] = "log." .. n .. " is a " .. type(log[n])
      elseif select("#", log[n]("leak probe: log." .. n .. " works")) ~= 0 then
        problems[#problems + 1] = "log." .. n .. " returns values"
      end
    end
    if log.level ~= nil then problems[#problems + 1] = "log.level is " .. tostring(log.level) end
    return lk.verdict(problems)
  end,
}

-- Process-wide collector control: stop, restart, setpause, setstepmul, step, collect.
local lk = require "lk"

return {
  ["GET /collectgarbage_control/plant"] = function(req)
    local out = {}
    lk.try(out, "collectgarbage('stop')", collectgarbage, "stop")
    lk.try(out, "collectgarbage('setpause', 100000)", collectgarbage, "setpause", 100000)
    lk.try(out, "collectgarbage('setstepmul', 1)", collectgarbage, "setstepmul", 1)
    lk.try(out, "collectgarbage('step')", collectgarbage, "step", 0)
    lk.try(out, "collectgarbage('collect')", collectgarbage, "collect")
    lk.try(out, "collectgarbage()", collectgarbage)
    lk.try(out, "collectgarbage('restart')", collectgarbage, "restart")
    lk.try(out, "gcinfo()", function() return gcinfo() end)
    lk.try(out, "collectgarbage replaced in its module", function() require("_G").collectgarbage = nil end)
    lk.try(out, "collectgarbage('stop') last", collectgarbage, "stop")
    return lk.report(out)
  end,

  ["GET /collectgarbage_control/probe"] = function(req)
    local problems = {}
    if type(collectgarbage("count")) ~= "number" then problems[#problems + 1] = "collectgarbage('count') is not a number" end
    -- A stopped collector (or one with a huge pause) never finishes a cycle: allocate up to
    -- 64 MiB of garbage and watch the memory count drop.
    local cycles = lk.run_gc(1, 64 * 1024)
    if cycles == 0 then problems[#problems + 1] = "no collection within 64 MiB of garbage: the collector is stopped" end
    return lk.verdict(problems)
  end,
}

-- A request cannot declare a metric (a registry entry every later request could look up), but
-- the function of mayfly.constant runs without the request, and the metrics module takes "no
-- request" for "the version is loading": a declaration made there registers for the whole
-- process, under a name load() can make of any data.
local lk = require "lk"
local MARK = lk.marker("metrics_constant_declare")
local NAME = "leak_" .. MARK

return {
  ["GET /metrics_constant_declare/plant"] = function(req)
    local out = {}
    -- The name is in the code (a constant's function may not use an upvalue).
    local code = "return tostring(mayfly.metrics.gauge('" .. NAME .. "', 'planted by a request'))"
    lk.try(out, "declare inside mayfly.constant", function()
      return mayfly.constant(assert(load(code, "=metrics_constant_declare")))
    end)
    lk.try(out, "declare inside a coroutine", function()
      return coroutine.wrap(function() return mayfly.metrics.counter(NAME .. "_co_total", "planted") end)()
    end)
    return lk.report(out)
  end,

  ["GET /metrics_constant_declare/probe"] = function(req)
    local problems = {}
    if pcall(mayfly.metrics.gauge, NAME, "planted by a request") then
      problems[#problems + 1] = "the metric " .. NAME .. " a request declared exists"
    end
    if pcall(mayfly.metrics.counter, NAME .. "_co_total", "planted") then
      problems[#problems + 1] = "the metric " .. NAME .. "_co_total a request declared exists"
    end
    return lk.verdict(problems)
  end,
}

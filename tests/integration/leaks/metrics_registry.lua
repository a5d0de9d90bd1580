-- Metrics are the operators' and shared by design, but never a store scripts read back: a
-- request cannot declare a metric (declarations register when a version loads), an error
-- describes only what the code declared, and no handler can read /metrics (or any route) of
-- its own process through mayfly.http.
local lk = require "lk"
local MARK = lk.marker("metrics_registry")

-- Registered as the version loads: the plant may count into it with any label value.
local seen = mayfly.metrics.counter("leak_metrics_registry_seen_total", "Label values seen.", { "v" })

return {
  ["GET /metrics_registry/plant"] = function(req)
    local out = {}
    lk.try(out, "declare from a request", mayfly.metrics.counter, "leak_metrics_registry_total",
      "planted", { "a", "b" })
    lk.try(out, "declare named by the data", mayfly.metrics.gauge, "leak_" .. MARK, "planted")
    lk.try(out, "label value", function() seen:inc(1, { v = MARK }) end)
    return lk.report(out)
  end,

  ["GET /metrics_registry/probe"] = function(req)
    local problems = {}
    local ok, err = pcall(mayfly.metrics.counter, "leak_metrics_registry_total", "probe", { "a" })
    if ok then
      problems[#problems + 1] = "a request declared a metric"
    elseif not tostring(err):find("not declared when the scripts loaded", 1, true) then
      problems[#problems + 1] = "the declaration error tells of an earlier one: " .. tostring(err)
    end
    if pcall(mayfly.metrics.gauge, "leak_" .. MARK, "probe") then
      problems[#problems + 1] = "a metric named by a planted value exists"
    end
    local host = req.headers.host
    for _, path in ipairs { "/metrics", "/readyz", "/metrics_registry/plant" } do
      local res, kind, msg = mayfly.http.get("http://" .. host .. path, { retries = 0 })
      if res then
        problems[#problems + 1] = "mayfly.http read " .. path .. " of its own process (" .. res.status .. ")"
        if res.body:find(MARK, 1, true) then problems[#problems + 1] = path .. " shows " .. MARK end
      elseif not tostring(msg):find("own listener", 1, true) then
        problems[#problems + 1] = "the call to " .. path .. " failed otherwise: " .. tostring(kind) .. " " .. tostring(msg)
      end
    end
    return lk.verdict(problems)
  end,
}

-- A metric's label sets are registered process-wide by the first update that uses them, up to a
-- bound; past it, an update of a new label set is dropped and returns false, one of a known set
-- returns true. A request that fills the metric therefore reads, for any label value, whether an
-- earlier request (on any worker) counted it: the metric is a store.
local lk = require "lk"
local MARK = lk.marker("metrics_series_oracle")

-- Registered as the version loads (a request only finds it).
local seen = mayfly.metrics.counter("leak_metrics_series_oracle_total", "Label values seen.", { "v" })

return {
  ["GET /metrics_series_oracle/plant"] = function(req)
    local out = {}
    lk.try(out, "count label " .. MARK, function() return seen:inc(0, { v = MARK }) end)
    return lk.report(out)
  end,

  ["GET /metrics_series_oracle/probe"] = function(req)
    local problems = {}
    -- Fill the metric with label values of no request's choosing until an update is refused;
    -- only then ask about the marker (asking earlier would register it).
    local full = false
    for i = 1, 1000 do
      local ok, r = pcall(seen.inc, seen, 0, { v = "filler_" .. i })
      if ok and r == false then full = true break end
    end
    if full then
      local ok, r = pcall(seen.inc, seen, 0, { v = MARK })
      if ok and r == true then
        problems[#problems + 1] = "the full metric accepts label " .. MARK .. ": an earlier request counted it"
      end
    end
    return lk.verdict(problems)
  end,
}

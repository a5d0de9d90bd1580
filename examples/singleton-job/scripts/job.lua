-- A periodic job that must run on one replica at a time (a report, a cleanup, a sync), however
-- many replicas serve. `singleton = true` makes the host hold a Redis lease for it: one
-- replica runs it; when that replica goes away (drain, crash, eviction) another takes over
-- once the lease lapses. Each run appends who ran it and when to the list `job:runs`.
local function run()
  local t = redis.call("TIME") -- Redis's clock: the same for every replica
  redis.call("RPUSH", "job:runs", mayfly.env.pod_name .. " " .. t[1] .. "." .. t[2])
  redis.call("LTRIM", "job:runs", -1000, -1)
end

return {
  every = {
    ["2s"] = { run = run, singleton = true },
  },

  -- The latest runs, newest last: "<pod> <unix time>" per line.
  ["GET /runs"] = function(req)
    local n = tonumber(req.query.n) or 20
    if n < 1 or n > 1000 then return { status = 400, json = { error = "n: 1 to 1000" } } end
    local runs = redis.call("LRANGE", "job:runs", -n, -1)
    return table.concat(runs, "\n") .. (#runs > 0 and "\n" or "")
  end,
}

-- Not a vector: routes whose runs stay suspended on the worker's loop (an outbound call to a
-- slow upstream, Redis round trips) while test_isolation plants and probes, so that every
-- vector also meets runs that wait.
return {
  ["GET /suspend/http"] = function()
    local upstream = config.get("suspend_upstream")
    if not upstream then return "no upstream" end
    local res, kind = mayfly.http.get(upstream .. "/stall?ms=150", { retries = 0 })
    return res and tostring(res.status) or kind
  end,
  ["GET /suspend/redis"] = function()
    local ok = 0
    for i = 1, 20 do
      if redis.pcall("INCR", "suspend:" .. i) then ok = ok + 1 end
    end
    return tostring(ok)
  end,
}

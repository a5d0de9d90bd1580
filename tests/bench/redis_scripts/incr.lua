-- The handler tests/bench/redis.sh measures: one INCR per request.
return {
  ["GET /incr"] = function()
    return tostring(redis.call("INCR", "bench:incr"))
  end,
}

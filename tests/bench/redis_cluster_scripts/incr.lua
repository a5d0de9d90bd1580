-- The handler tests/bench/redis_cluster.sh measures: one INCR per request on one of 10000 keys,
-- "bench:<k>", k from the query (wrk's tests/bench/redis_cluster_keys.lua picks it at random)
-- or, without one, from math.random (the one-after-another client of the callgrind count sends
-- a single path). Without a hash tag the keys spread over every slot, so over every primary.
return {
  ["GET /incr"] = function(req)
    return tostring(redis.call("INCR", "bench:" .. (req.query.k or math.random(10000))))
  end,
}

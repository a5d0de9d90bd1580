-- wrk -s for tests/bench/redis_cluster.sh: each request INCRs one of 10000 keys at random
-- (GET /incr?k=<1..10000>), so the requests of a run reach every primary of a cluster.
request = function()
  return wrk.format("GET", "/incr?k=" .. math.random(10000))
end

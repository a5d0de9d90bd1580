-- wrk script: each connection cycles through hello, a Redis INCR, a JSON POST and a 404, and the
-- run ends with a count of every status seen (threads' counts are summed in done()).
local requests, n = {}, 0
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init()
  counts = {}
  local body = '{"user": {"name": "ann", "tags": ["a", "b"]}, "n": 42}'
  requests = {
    wrk.format("GET", "/hello?name=soak"),
    wrk.format("GET", "/count/" .. math.random(1, 50)),
    wrk.format("POST", "/echo", { ["Content-Type"] = "application/json" }, body),
    wrk.format("GET", "/missing/route"),
  }
end

function request()
  n = n + 1
  return requests[n % #requests + 1]
end

function response(status)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary)
  local total = {}
  for _, t in ipairs(threads) do
    for status, c in pairs(t:get("counts")) do total[status] = (total[status] or 0) + c end
  end
  local keys = {}
  for status in pairs(total) do keys[#keys + 1] = status end
  table.sort(keys)
  for _, status in ipairs(keys) do io.write(string.format("status %d %d\n", status, total[status])) end
  local e = summary.errors
  io.write(string.format("errors connect=%d read=%d write=%d timeout=%d\n", e.connect, e.read,
    e.write, e.timeout))
end

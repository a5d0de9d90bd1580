-- A rate-limited API: each client (its X-Api-Key, else its address) may call /api/* `rate_limit`
-- times per `rate_window` seconds (config; defaults 5 per 10 s), counted in Redis so the limit
-- holds across every replica. Refusals are 429 with Retry-After; every answer carries the
-- RateLimit-* headers.
local ratelimit = require "mayfly.ratelimit"
local cache = require "mayfly.cache"

local quotes = {
  "Simplicity is prerequisite for reliability.",
  "Make it work, make it right, make it fast.",
  "The cheapest, fastest and most reliable components are those that aren't there.",
}

local function client(req)
  return req.headers["x-api-key"] or req.remote_addr
end

-- Runs handler(req) when the client is within its limit; adds the headers either way.
local function limited(handler)
  return function(req)
    local limit, window = config.number("rate_limit", 5), config.number("rate_window", 10)
    local allowed, remaining, reset = ratelimit.check("api:" .. client(req), limit, window)
    local headers = {
      ["ratelimit-limit"] = tostring(limit),
      ["ratelimit-remaining"] = tostring(remaining),
      ["ratelimit-reset"] = tostring(reset),
    }
    if not allowed then
      headers["retry-after"] = tostring(reset)
      return { status = 429, headers = headers, json = { error = "rate limit exceeded", retry_after = reset } }
    end
    local res = handler(req)
    res.headers = headers
    return res
  end
end

return {
  ["GET /api/quote"] = limited(function(req)
    local n = redis.call("INCR", "quotes:served")
    return { json = { quote = quotes[(n - 1) % #quotes + 1], served = n } }
  end),

  -- An expensive answer behind both the limit and a 30 s cache shared by all replicas.
  ["GET /api/stats"] = limited(function(req)
    local stats = cache.get("cache:api:stats", 30, function()
      return { served = tonumber(redis.call("GET", "quotes:served")) or 0, computed_at = os.time() }
    end)
    return { json = stats }
  end),
}

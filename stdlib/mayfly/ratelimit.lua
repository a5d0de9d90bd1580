-- ratelimit: at most `limit` hits per `window` seconds per key, counted in Redis, so every
-- replica shares one limit. A fixed window: one counter per key, created by the first hit with
-- the window as its expiry; the check-and-count is one server-side script, so concurrent hits
-- from any number of replicas never overshoot. (Fixed windows allow up to 2 x limit across a
-- window boundary; pick the window with that in mind.)
local _, internal = ...
local script = internal "mayfly._script"

local error, type, tostring, math_ceil, math_floor = error, type, tostring, math.ceil, math.floor

local _M = { _VERSION = "0.1" }

local hit = script.new([[
local n = redis.call("INCR", KEYS[1])
local ttl = redis.call("PTTL", KEYS[1])
if ttl < 0 then
  redis.call("PEXPIRE", KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { n, ttl }
]])

local function check_args(key, limit, window)
  if type(key) ~= "string" or key == "" then error("ratelimit: key must be a non-empty string", 3) end
  if type(limit) ~= "number" or limit < 1 then error("ratelimit: limit must be a number >= 1", 3) end
  if type(window) ~= "number" or window <= 0 then error("ratelimit: window must be seconds > 0", 3) end
end

-- Counts one hit on key. Returns allowed (boolean), remaining hits in this window, and the
-- seconds until the window ends (the Retry-After of a refusal, at least 1).
function _M.check(key, limit, window)
  check_args(key, limit, window)
  local ms = math_floor(window * 1000 + 0.5)
  local r = hit(1, "ratelimit:" .. key, ms)
  local count, ttl = r[1], r[2]
  local retry_after = math_ceil(ttl / 1000)
  if retry_after < 1 then retry_after = 1 end
  local remaining = limit - count
  if remaining < 0 then remaining = 0 end
  return count <= limit, remaining, retry_after
end

-- Counts one hit; returns nil when allowed, or a 429 response to return from the handler,
-- with Retry-After and RateLimit-* headers.
function _M.guard(key, limit, window)
  check_args(key, limit, window)
  local allowed, remaining, retry_after = _M.check(key, limit, window)
  if allowed then return nil end
  return {
    status = 429,
    headers = {
      ["retry-after"] = tostring(retry_after),
      ["ratelimit-limit"] = tostring(limit),
      ["ratelimit-remaining"] = tostring(remaining),
      ["ratelimit-reset"] = tostring(retry_after),
    },
    json = { error = "rate limit exceeded", retry_after = retry_after },
  }
end

return _M

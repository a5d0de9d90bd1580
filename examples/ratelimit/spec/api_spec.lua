-- Specs for examples/ratelimit, run with `cd examples/ratelimit && mayfly test` against a real
-- Redis.
local testing = require "mayfly.testing"

-- A new API key per test: limits are per client and live in Redis.
local keys = 0
local function new_key()
  keys = keys + 1
  return "key" .. keys
end

local function quote(key)
  return testing.request("GET", "/api/quote", { headers = { ["x-api-key"] = key } })
end

describe("rate-limited API", function()
  it("answers within the limit with RateLimit headers", function()
    local res = quote(new_key())
    assert.are.equal(200, res.status)
    assert.is_string(res.json.quote)
    assert.are.equal("5", res.headers["ratelimit-limit"])
    assert.are.equal("4", res.headers["ratelimit-remaining"])
  end)

  it("refuses the 6th call in a window with 429 and Retry-After", function()
    local key = new_key()
    for i = 1, 5 do assert.are.equal(200, quote(key).status, "call " .. i) end
    local res = quote(key)
    assert.are.equal(429, res.status)
    local retry = tonumber(res.headers["retry-after"])
    assert.is_truthy(retry and retry >= 1 and retry <= 10)
    assert.are.equal("rate limit exceeded", res.json.error)
  end)

  it("counts each client separately", function()
    local a, b = new_key(), new_key()
    for _ = 1, 5 do quote(a) end
    assert.are.equal(429, quote(a).status)
    assert.are.equal(200, quote(b).status)
  end)

  it("serves stats through the cache", function()
    local res = testing.request("GET", "/api/stats", { headers = { ["x-api-key"] = new_key() } })
    assert.are.equal(200, res.status)
    assert.is_number(res.json.served)
  end)
end)

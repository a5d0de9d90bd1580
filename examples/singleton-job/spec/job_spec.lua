local testing = require "mayfly.testing"

describe("GET /runs", function()
  it("is empty before the first run", function()
    local res = testing.request("GET", "/runs")
    assert.are.equal(200, res.status)
    assert.are.equal("", res.body)
  end)

  it("lists the latest runs, newest last", function()
    for i = 1, 3 do testing.redis("RPUSH", "job:runs", "pod-" .. i .. " 170000000" .. i .. ".0") end
    local res = testing.request("GET", "/runs", { query = { n = "2" } })
    assert.are.equal("pod-2 1700000002.0\npod-3 1700000003.0\n", res.body)
  end)

  it("refuses a count out of range", function()
    assert.are.equal(400, testing.request("GET", "/runs", { query = { n = "0" } }).status)
  end)
end)

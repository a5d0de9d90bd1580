local testing = require "mayfly.testing"

describe("GET /hello", function()
  it("greets the world by default", function()
    local res = testing.request("GET", "/hello")
    assert.are.equal(200, res.status)
    assert.are.equal("hello world", res.body)
  end)

  it("greets the name in the query", function()
    assert.are.equal("hello you", testing.request("GET", "/hello", { query = { name = "you" } }).body)
  end)
end)

describe("GET /hello/:name", function()
  it("answers JSON naming the path parameter and the request id", function()
    local res = testing.request("GET", "/hello/ada", { headers = { ["X-Request-Id"] = "r-42" } })
    assert.are.equal(200, res.status)
    assert.are.same({ greeting = "hello", name = "ada", request_id = "r-42" }, res.json)
  end)
end)

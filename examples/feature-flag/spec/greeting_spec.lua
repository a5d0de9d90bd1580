local testing = require "mayfly.testing"

describe("GET /greeting", function()
  it("answers the old greeting while the flag is off", function()
    testing.config { new_greeting = "false" }
    local res = testing.request("GET", "/greeting", { query = { name = "ada" } })
    assert.are.equal(200, res.status)
    assert.are.same({ greeting = "Hello ada", new_greeting = false }, res.json)
  end)

  it("answers the new greeting once the flag is on", function()
    testing.config { new_greeting = "true" }
    local res = testing.request("GET", "/greeting", { query = { name = "ada" } })
    assert.are.same({ greeting = "Welcome back, ada!", new_greeting = true }, res.json)
  end)
end)

-- Specs for examples/live-feed, run with `cd examples/live-feed && mayfly test`: the feed read as
-- a client reads it (testing.stream), items published through the route.
local testing = require "mayfly.testing"
local cjson = require "cjson"

local function publish(title)
  local res = testing.request("POST", "/news", { json = { title = title } })
  assert.are.equal(201, res.status)
  return res.json.id
end

describe("the live feed", function()
  before_each(function()
    testing.config({ poll = 0.05 })
  end)

  it("streams items as they are published", function()
    local s = testing.stream("GET", "/news")
    assert.are.equal(200, s.status)
    assert.are.equal("text/event-stream; charset=utf-8", s.headers["content-type"])
    local id = publish("first")
    local events = s:events(1)
    assert.are.equal("news", events[1].event)
    assert.are.equal(id, events[1].id)
    assert.are.same({ title = "first" }, cjson.decode(events[1].data))
  end)

  it("sends a client that comes back what it missed, then what comes next", function()
    local seen = publish("seen")
    local missed1 = publish("missed 1")
    local missed2 = publish("missed 2")
    local s = testing.stream("GET", "/news", { headers = { ["Last-Event-ID"] = seen } })
    local events = s:events(2)
    assert.are.same({ missed1, missed2 }, { events[1].id, events[2].id })
    local next_id = publish("new")
    assert.are.equal(next_id, s:events(1)[1].id)
  end)

  it("says goodbye and when to reconnect on the drain", function()
    local s = testing.stream("GET", "/news")
    s:drain()
    local events = s:events()
    assert.are.equal("bye", events[#events].event)
    assert.is_true(s:ended())
  end)

  it("lists the newest items", function()
    publish("a")
    publish("b")
    local res = testing.request("GET", "/news/recent", { query = { n = 2 } })
    assert.are.equal(200, res.status)
    local items = res.json.items
    assert.are.same({ "b", "a" }, { items[1].title, items[2].title })
  end)

  it("refuses an item without a title", function()
    local res = testing.request("POST", "/news", { json = { url = "https://example.org" } })
    assert.are.equal(400, res.status)
  end)
end)

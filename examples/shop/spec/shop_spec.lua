-- Every route of the shop, through the real router and sandbox, on a real Redis (each test
-- starts from an empty database): `cd examples/shop && mayfly test`.
local testing = require "mayfly.testing"

local function login(user)
  local res = testing.request("POST", "/login", { json = { user = user } })
  assert.are.equal(200, res.status)
  local sid = res.headers["set-cookie"]:match("sid=(%x+)")
  assert.is_string(sid)
  return { cookie = "sid=" .. sid }
end

describe("counters", function()
  it("POST /counters/:name counts up from 1", function()
    assert.are.same({ name = "visits", value = 1 }, testing.request("POST", "/counters/visits").json)
    assert.are.same({ name = "visits", value = 2 }, testing.request("POST", "/counters/visits").json)
  end)

  it("GET /counters/:name reads 0 for a counter never counted", function()
    assert.are.same({ name = "fresh", value = 0 }, testing.request("GET", "/counters/fresh").json)
  end)

  it("starts every test from an empty Redis", function()
    assert.are.equal(0, testing.request("GET", "/counters/visits").json.value)
  end)

  it("refuses a bad counter name with 400", function()
    assert.are.equal(400, testing.request("POST", "/counters/" .. string.rep("x", 65)).status)
    assert.are.equal(400, testing.request("GET", "/counters/a%20b").status)
  end)
end)

describe("login, me, logout", function()
  it("POST /login sets an HttpOnly session cookie kept in Redis", function()
    local res = testing.request("POST", "/login", { json = { user = "ann" } })
    assert.are.equal(200, res.status)
    assert.are.same({ user = "ann" }, res.json)
    assert.matches("HttpOnly", res.headers["set-cookie"])
    local sid = res.headers["set-cookie"]:match("sid=(%x+)")
    assert.are.equal("ann", testing.redis("HGET", "session:" .. sid, "user"))
  end)

  it("POST /login refuses a bad user name and a body that is not JSON", function()
    assert.are.equal(400, testing.request("POST", "/login", { json = { user = "a b" } }).status)
    assert.are.equal(400, testing.request("POST", "/login", { body = "user=ann" }).status)
  end)

  it("GET /me answers the session's user, 401 without one", function()
    local h = login("bob")
    assert.are.same({ user = "bob" }, testing.request("GET", "/me", { headers = h }).json)
    assert.are.equal(401, testing.request("GET", "/me").status)
  end)

  it("POST /logout ends the session", function()
    local h = login("cy")
    local res = testing.request("POST", "/logout", { headers = h })
    assert.are.equal(204, res.status)
    assert.matches("Max%-Age=0", res.headers["set-cookie"])
    assert.are.equal(401, testing.request("GET", "/me", { headers = h }).status)
  end)
end)

describe("cart", function()
  local h
  before_each(function() h = login("dee") end)

  it("GET /cart is empty at first, and 401 without a session", function()
    assert.are.same({ items = {}, total_items = 0 }, testing.request("GET", "/cart", { headers = h }).json)
    assert.are.equal(401, testing.request("GET", "/cart").status)
  end)

  it("POST /cart/items adds quantities up", function()
    testing.request("POST", "/cart/items", { headers = h, json = { sku = "tea", qty = 2 } })
    local res = testing.request("POST", "/cart/items", { headers = h, json = { sku = "tea" } })
    assert.are.same({ items = { tea = 3 }, total_items = 3 }, res.json)
  end)

  it("POST /cart/items refuses a bad sku or quantity", function()
    assert.are.equal(400, testing.request("POST", "/cart/items", { headers = h, json = { sku = "a b" } }).status)
    assert.are.equal(400, testing.request("POST", "/cart/items", { headers = h, json = { sku = "tea", qty = 100 } }).status)
    assert.are.equal(400, testing.request("POST", "/cart/items", { headers = h, json = { 1, 2 } }).status)
  end)

  it("DELETE /cart/items/:sku removes an item, 404 when it is not there", function()
    testing.request("POST", "/cart/items", { headers = h, json = { sku = "tea" } })
    testing.request("POST", "/cart/items", { headers = h, json = { sku = "jam", qty = 2 } })
    local res = testing.request("DELETE", "/cart/items/tea", { headers = h })
    assert.are.same({ items = { jam = 2 }, total_items = 2 }, res.json)
    assert.are.equal(404, testing.request("DELETE", "/cart/items/tea", { headers = h }).status)
  end)
end)

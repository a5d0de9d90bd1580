local testing = require "mayfly.testing"

local function create(name, qty)
  return testing.request("POST", "/items", { json = { name = name, qty = qty } })
end

describe("POST /items", function()
  it("creates an item and says where it is", function()
    local res = create("tea", 3)
    assert.are.equal(201, res.status)
    assert.are.equal("/items/1", res.headers["location"])
    assert.are.same({ id = 1, name = "tea", qty = 3 }, res.json)
    assert.are.equal("tea", testing.redis("HGET", "item:1", "name"))
  end)

  it("defaults qty to 0", function()
    assert.are.equal(0, create("jam").json.qty)
  end)

  it("refuses a missing name, a bad qty and a body that is not JSON", function()
    assert.are.equal(400, testing.request("POST", "/items", { json = { qty = 1 } }).status)
    assert.are.equal(400, create("tea", -1).status)
    assert.are.equal(400, create("tea", 1.5).status)
    assert.are.equal(400, testing.request("POST", "/items", { body = "tea" }).status)
    assert.are.equal(0, testing.redis("DBSIZE"))
  end)
end)

describe("reading, updating, deleting", function()
  before_each(function()
    create("tea", 3)
    create("jam", 1)
  end)

  it("lists items in creation order", function()
    local res = testing.request("GET", "/items")
    assert.are.equal(200, res.status)
    assert.are.same({ items = { { id = 1, name = "tea", qty = 3 }, { id = 2, name = "jam", qty = 1 } } }, res.json)
  end)

  it("reads one item, 404 for an unknown one", function()
    assert.are.same({ id = 2, name = "jam", qty = 1 }, testing.request("GET", "/items/2").json)
    assert.are.equal(404, testing.request("GET", "/items/9").status)
  end)

  it("replaces an item, 404 for an unknown one", function()
    local res = testing.request("PUT", "/items/1", { json = { name = "green tea", qty = 5 } })
    assert.are.same({ id = 1, name = "green tea", qty = 5 }, res.json)
    assert.are.equal(404, testing.request("PUT", "/items/9", { json = { name = "x" } }).status)
    assert.are.equal(0, testing.redis("EXISTS", "item:9"))
  end)

  it("deletes an item once", function()
    assert.are.equal(204, testing.request("DELETE", "/items/1").status)
    assert.are.equal(404, testing.request("DELETE", "/items/1").status)
    assert.are.same({ items = { { id = 2, name = "jam", qty = 1 } } }, testing.request("GET", "/items").json)
  end)
end)

describe("GET /items on an empty store", function()
  it("is an empty JSON array", function()
    assert.are.equal('{"items":[]}', testing.request("GET", "/items").body)
  end)
end)

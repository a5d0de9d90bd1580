-- Specs for examples/login, run with `cd examples/login && mayfly test` against a real Redis.
local testing = require "mayfly.testing"

-- A new user per test: the login attempt limit is per user and lives in Redis.
local users = 0
local function new_user()
  users = users + 1
  return "user" .. users
end

local function cookie_of(res)
  local set = res.headers["set-cookie"]
  if type(set) == "table" then set = set[1] end
  return set and set:match("^(mayfly_session=[^;]*)")
end

local function login(user, password)
  return testing.request("POST", "/login", { json = { user = user, password = password or "letmein" } })
end

describe("login", function()
  it("sets a secure session cookie on success", function()
    local res = login(new_user())
    assert.are.equal(200, res.status)
    local set = res.headers["set-cookie"]
    assert.is_truthy(set:match("^mayfly_session=%x+; Path=/; Max%-Age=1800; HttpOnly; SameSite=Lax; Secure$"))
  end)

  it("refuses a wrong password with 401", function()
    assert.are.equal(401, login(new_user(), "nope").status)
  end)

  it("answers 400 for a bad user name", function()
    assert.are.equal(400, login("no spaces allowed").status)
  end)

  it("limits login attempts per user with 429 and Retry-After", function()
    local user = new_user()
    for _ = 1, 5 do assert.are.equal(401, login(user, "nope").status) end
    local res = login(user, "nope")
    assert.are.equal(429, res.status)
    assert.is_truthy(tonumber(res.headers["retry-after"]))
  end)
end)

describe("session", function()
  it("knows the user and counts visits", function()
    local user = new_user()
    local cookie = cookie_of(login(user))
    local res = testing.request("GET", "/me", { headers = { cookie = cookie } })
    assert.are.equal(200, res.status)
    assert.are.equal(user, res.json.user)
    assert.are.equal(1, res.json.visits)
    res = testing.request("GET", "/me", { headers = { cookie = cookie } })
    assert.are.equal(2, res.json.visits)
  end)

  it("regenerates the id at login", function()
    local before = cookie_of(testing.request("POST", "/login", { json = { user = new_user(), password = "letmein" } }))
    local after = cookie_of(testing.request("POST", "/login", {
      headers = { cookie = before }, json = { user = new_user(), password = "letmein" } }))
    assert.are_not.equal(before, after)
  end)

  it("ends at logout", function()
    local cookie = cookie_of(login(new_user()))
    local res = testing.request("POST", "/logout", { headers = { cookie = cookie } })
    assert.are.equal(204, res.status)
    assert.is_truthy(res.headers["set-cookie"]:match("Max%-Age=0"))
    assert.are.equal(401, testing.request("GET", "/me", { headers = { cookie = cookie } }).status)
  end)

  it("is 401 without a cookie", function()
    assert.are.equal(401, testing.request("GET", "/me").status)
  end)
end)

-- A module, not a route file (its table has no "METHOD /path" key): loaded per request by
-- require "session" from counters.lua, auth.lua and cart.lua. Sessions live in Redis only:
-- session:<id> is a hash { user = ... } that expires after TTL seconds without use.
local M = {}

M.TTL = 1800
M.COOKIE = "sid"

-- "a=1; sid=abc" -> { a = "1", sid = "abc" } (the first occurrence of a name wins).
function M.parse_cookies(header)
  local cookies = {}
  if type(header) ~= "string" then return cookies end
  for pair in header:gmatch("[^;]+") do
    local name, value = pair:match("^%s*([^=%s]+)%s*=%s*(.-)%s*$")
    if name and cookies[name] == nil then
      cookies[name] = value:match('^"(.*)"$') or value
    end
  end
  return cookies
end

-- Session ids: 8 hex digits of a Redis counter (unique across every replica) followed by 24
-- random hex digits (math.random is seeded unpredictably for each request by the host).
local function new_id()
  local seq = redis.call("INCR", "session:seq")
  local parts = { string.format("%08x", seq % 0x100000000) }
  for i = 2, 7 do parts[i] = string.format("%04x", math.random(0, 0xffff)) end
  return table.concat(parts)
end

local function valid_id(id)
  return type(id) == "string" and #id == 32 and id:match("^%x+$") ~= nil
end

local function cookie(value, extra)
  return M.COOKIE .. "=" .. value .. "; HttpOnly; SameSite=Lax; Path=/" .. (extra or "")
end

-- Creates a session for user; returns its id and the Set-Cookie header value.
function M.create(user)
  local id = new_id()
  local key = "session:" .. id
  redis.call("HSET", key, "user", user)
  redis.call("EXPIRE", key, M.TTL)
  return id, cookie(id, "; Max-Age=" .. M.TTL)
end

-- The request's session: id, user; or nil when there is no cookie or the session is gone.
-- Each use pushes the expiry back (a sliding session).
function M.current(req)
  local id = M.parse_cookies(req.headers.cookie)[M.COOKIE]
  if not valid_id(id) then return nil end
  local key = "session:" .. id
  local user = redis.call("HGET", key, "user")
  if not user then return nil end
  redis.call("EXPIRE", key, M.TTL)
  return id, user
end

-- Deletes the request's session, if any; returns the Set-Cookie value that clears the cookie.
function M.destroy(req)
  local id = M.parse_cookies(req.headers.cookie)[M.COOKIE]
  if valid_id(id) then redis.call("DEL", "session:" .. id) end
  return cookie("", "; Max-Age=0")
end

-- The answer for a route that needs a session and has none.
function M.unauthorized()
  return { status = 401, json = { error = "not logged in" } }
end

-- Runs handler(req, user) when the request has a session, answers 401 otherwise.
function M.required(handler)
  return function(req)
    local _, user = M.current(req)
    if not user then return M.unauthorized() end
    return handler(req, user)
  end
end

return M

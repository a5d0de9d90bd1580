-- Log in, who am I, log out. The session itself is in Redis (see session.lua); the client only
-- holds its id in an HttpOnly cookie.
local session = require "session"

return {
  ["POST /login"] = function(req)
    local body = req:json()               -- an empty or non-JSON body answers 400 by itself
    local user = type(body) == "table" and body.user
    if type(user) ~= "string" or #user > 64 or not user:match("^[%w_.-]+$") then
      return { status = 400, json = { error = "user must be 1-64 characters of A-Za-z0-9_.-" } }
    end
    local _, set_cookie = session.create(user)
    return { json = { user = user }, headers = { ["Set-Cookie"] = set_cookie } }
  end,

  ["GET /me"] = function(req)
    local _, user = session.current(req)
    if not user then return session.unauthorized() end
    return { json = { user = user } }
  end,

  ["POST /logout"] = function(req)
    local set_cookie = session.destroy(req)
    return { status = 204, headers = { ["Set-Cookie"] = set_cookie } }
  end,
}

-- A login with a server-side session (mayfly.session) and a limit on login attempts per user
-- (mayfly.ratelimit). Every piece of state is in Redis: any replica serves any user.
--
-- Credentials: this example checks one shared demo password from the config (`password`,
-- default "letmein") so that it stays about sessions; a real app verifies a password hash
-- (bcrypt, argon2) or delegates to an identity provider.
local session = require "mayfly.session"
local ratelimit = require "mayfly.ratelimit"

-- Session options, read per request so a config change applies at once. Secure cookies need
-- HTTPS (in front of mayfly: the ingress); `cookie_secure = false` serves plain-HTTP tests.
local function opts()
  return { ttl = config.number("session_ttl", 1800), secure = config.bool("cookie_secure", true) }
end

return {
  ["POST /login"] = function(req)
    local body = req:json()
    local user, password = body.user, body.password
    if type(user) ~= "string" or not user:match("^[%w_.-]+$") or #user > 64 then
      return { status = 400, json = { error = "user: 1-64 letters, digits, _ . -" } }
    end
    local limited = ratelimit.guard("login:" .. user, config.number("login_attempts", 5), 60)
    if limited then return limited end
    if password ~= config.get("password", "letmein") then
      return { status = 401, json = { error = "wrong user or password" } }
    end
    local s = session.load(req, opts())
    s:regenerate() -- a new id at login: an id planted before it is worth nothing
    s:set({ user = user, login_at = os.time(), visits = 0 })
    return s:attach({ json = { user = user } })
  end,

  ["GET /me"] = function(req)
    local s = session.load(req, opts())
    if not s:get("user") then return { status = 401, json = { error = "not logged in" } } end
    local visits = (tonumber(s:get("visits")) or 0) + 1
    s:set("visits", visits)
    return s:attach({ json = { user = s:get("user"), visits = visits } })
  end,

  ["POST /logout"] = function(req)
    local s = session.load(req, opts())
    s:destroy()
    return s:attach({ status = 204 })
  end,
}

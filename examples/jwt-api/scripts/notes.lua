-- The protected API: who the token says you are, and your notes in Redis (any replica serves
-- any user: the token carries the identity, Redis the data).
local auth = require "auth"

return {
  ["GET /me"] = function(req)
    local claims, refused = auth.check(req)
    if not claims then return refused end
    return { json = { user = claims.sub, scope = claims.scope, expires_at = claims.exp } }
  end,

  ["GET /notes"] = function(req)
    local claims, refused = auth.check(req, "notes:read")
    if not claims then return refused end
    return { json = { notes = redis.call("LRANGE", "notes:" .. claims.sub, 0, -1) } }
  end,

  ["POST /notes"] = function(req)
    local claims, refused = auth.check(req, "notes:write")
    if not claims then return refused end
    local text = req:json().text
    if type(text) ~= "string" or text == "" or #text > 1000 then
      return { status = 400, json = { error = "text: 1-1000 characters" } }
    end
    local n = redis.call("RPUSH", "notes:" .. claims.sub, text)
    return { status = 201, json = { count = n } }
  end,
}

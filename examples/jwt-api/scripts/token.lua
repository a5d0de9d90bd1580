-- POST /token: a token for a user, as an OAuth token endpoint answers (RFC 6749 5.1). The
-- password check is a demo (one shared password from the config key `password`, default
-- "letmein", as in examples/login): a real service asks its identity provider, and with
-- jwks_url set this route is off, tokens coming from that provider.
local jwt = require "mayfly.jwt"
local crypto = require "mayfly.crypto"

local SCOPES = { ["notes:read"] = true, ["notes:write"] = true }

return {
  ["POST /token"] = function(req)
    if config.get("jwks_url") then
      return { status = 404, json = { error = "tokens come from the identity provider" } }
    end
    local body = req:json()
    local user, scope = body.user, body.scope or "notes:read notes:write"
    if type(user) ~= "string" or not user:match("^[%w_.-]+$") or #user > 64 then
      return { status = 400, json = { error = "invalid_request", error_description = "user: 1-64 letters, digits, _ . -" } }
    end
    if type(scope) ~= "string" then return { status = 400, json = { error = "invalid_scope" } } end
    for s in scope:gmatch("%S+") do
      if not SCOPES[s] then return { status = 400, json = { error = "invalid_scope", error_description = s } } end
    end
    if body.password ~= config.get("password", "letmein") then
      return { status = 401, json = { error = "invalid_grant" } }
    end

    local ttl = config.number("token_ttl", 900)
    local now = os.time()
    local claims = { iss = "jwt-api", aud = "jwt-api", sub = user, scope = scope, iat = now,
      exp = now + ttl, jti = crypto.random_hex(16) }
    local private_key = config.get("jwt_private_key")
    local token
    if private_key then
      token = jwt.sign(claims, private_key, "ES256", { kid = config.get("jwt_key_id", "jwt-api-1") })
    else
      token = jwt.sign(claims, config.get("jwt_secret") or error("jwt-api: set jwt_secret"), "HS256")
    end
    return {
      headers = { ["Cache-Control"] = "no-store" },
      json = { access_token = token, token_type = "Bearer", expires_in = ttl, scope = scope },
    }
  end,
}

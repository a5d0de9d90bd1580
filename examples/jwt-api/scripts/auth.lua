-- auth: the bearer token of a request, verified with mayfly.jwt, and the scopes it grants. A
-- module (no routes): the route files require it.
--
-- Where keys come from, first match wins (config keys, MAYFLY_CFG_<NAME> overrides):
--   jwks_url        tokens of an identity provider: RS256 or ES256, keys from its JWKS by kid,
--                   with jwt_issuer and jwt_audience as it issues them
--   jwt_public_key  tokens this API issued with jwt_private_key (ES256)
--   jwt_secret      tokens this API issued with the shared secret (HS256, 32 bytes or more)
local jwt = require "mayfly.jwt"

local M = {}

-- The options of jwt.verify, read per request so a config change applies at once.
function M.options()
  local common = {
    leeway = config.number("jwt_leeway", 30), -- seconds of clock skew forgiven
    required = { "exp", "sub" },               -- a token without expiry is never accepted
  }
  local url = config.get("jwks_url")
  if url then
    common.algorithms = { "RS256", "ES256" }
    common.jwks_url = url
    common.issuer = config.get("jwt_issuer")
    common.audience = config.get("jwt_audience", "jwt-api")
    return common
  end
  common.issuer, common.audience = "jwt-api", "jwt-api"
  local public_key = config.get("jwt_public_key")
  if public_key then
    common.algorithms = { "ES256" }
    common.key = public_key
    return common
  end
  local secret = config.get("jwt_secret")
  if not secret then error("jwt-api: set jwt_secret, jwt_public_key or jwks_url in the config") end
  common.algorithms = { "HS256" }
  common.key = secret
  return common
end

local function has_scope(granted, scope)
  if type(granted) ~= "string" then return false end
  for s in granted:gmatch("%S+") do
    if s == scope then return true end
  end
  return false
end

-- RFC 6750: a 401 says what was wrong with the token; a 403 which scope is missing.
local function refuse(status, header, message)
  return { status = status, headers = { ["WWW-Authenticate"] = header }, json = { error = message } }
end

-- The token's claims, or nil and the response to send: 401 without a valid token, 403 when
-- scope (optional) is not granted.
function M.check(req, scope)
  local token = (req.headers.authorization or ""):match("^[Bb]earer +(%S+)$")
  if not token then
    return nil, refuse(401, 'Bearer realm="jwt-api"', "a bearer token is required")
  end
  local claims, err, detail = jwt.verify(token, M.options())
  if not claims then
    log.info("token refused", { reason = err, detail = detail })
    return nil, refuse(401, 'Bearer realm="jwt-api", error="invalid_token", error_description="' ..
      err .. '"', err)
  end
  if scope and not has_scope(claims.scope, scope) then
    return nil, refuse(403, 'Bearer realm="jwt-api", error="insufficient_scope", scope="' ..
      scope .. '"', "this token lacks the scope " .. scope)
  end
  return claims
end

return M

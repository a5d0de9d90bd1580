-- The handlers tests/bench/jwt.sh measures: a bearer token verified with mayfly.jwt per request,
-- the key read from the config at each request as an application keeps it (jwt_secret,
-- jwt_public_key: files of the run's MAYFLY_CONFIG folder). The peer of tests/bench/nginx_jwt.lua.
local jwt = mayfly.jwt

-- The Authorization header's bearer token, or the access_token query argument (RFC 6750 2.3: how
-- the callgrind client of tests/bench/lib.sh, which sends no headers, gives it).
local function bearer(req)
  local auth = req.headers.authorization
  if auth then
    if auth:sub(1, 7) == "Bearer " then return auth:sub(8) end
    return nil
  end
  return req.query.access_token
end

local function answer(claims, err)
  if not claims then return { status = 401, body = err } end
  return claims.sub
end

return {
  -- The token read, not verified: what the rest of a request costs.
  ["GET /token"] = function(req)
    if not bearer(req) then return { status = 401, body = "no token" } end
    return "bench-user"
  end,
  ["GET /hs256"] = function(req)
    return answer(jwt.verify(bearer(req), { algorithms = { "HS256" }, key = config.get("jwt_secret") }))
  end,
  ["GET /rs256"] = function(req)
    return answer(jwt.verify(bearer(req),
      { algorithms = { "RS256" }, key = config.get("jwt_public_key") }))
  end,
}

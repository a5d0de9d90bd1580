-- jwt: JSON Web Tokens (RFC 7519) in JWS compact form (RFC 7515), on mayfly.crypto.
--   local claims, err, detail = jwt.verify(token, {
--     algorithms = { "RS256" },                   -- required: the header's alg must be one
--     jwks_url = "https://id.example/jwks.json",  -- or key = secret (HS*) / PEM public key
--     audience = "api", issuer = "https://id.example", leeway = 30, required = { "exp" } })
--   local token = jwt.sign({ sub = "ada", exp = os.time() + 3600 }, secret, "HS256", { kid = "k1" })
-- A token that does not verify is nil plus a short reason (below); misuse (no algorithms, no key,
-- a secret shorter than its hash, an algorithm name mayfly does not know) raises.
--
-- Reasons: "malformed", "algorithm not allowed" (not in opts.algorithms, "none", or a key of
-- the other kind: an HMAC algorithm with a PEM key or a JWKS, a public-key one with a secret),
-- "unknown key" (no JWK of the header's kid fits the algorithm), "jwks unavailable" (no JWKS
-- document could be fetched), "bad signature", "expired", "not yet valid" (nbf, or iat in the
-- future), "audience", "issuer", "missing claim". The signature is checked before the payload
-- is even decoded.
--
-- JWKS documents are fetched with mayfly.http by the request that first needs one and kept by
-- the host per URL for every request and worker (mayfly._jwks: max-age from Cache-Control,
-- 300 s without it, 5 s to a day; an unknown kid refetches at most every 5 s; one fetch at a
-- time per URL, the others wait for it or keep using the document they have). Each Lua state
-- parses a document once per version of it: `sets` below, which no script can reach.
local crypto = require "mayfly.crypto"
local json = require "mayfly.json"
local http = require "mayfly.http"
local log = require "mayfly.log"
local _, internal = ...
local jwks -- mayfly._jwks, the host's cache of JWKS documents: looked up at its first use

local type, pairs, ipairs, error, pcall, tostring, tonumber = type, pairs, ipairs, error, pcall,
  tostring, tonumber
local string_find, string_match, string_lower, string_sub = string.find, string.match,
  string.lower, string.sub
local os_time, math_min, math_max = os.time, math.min, math.max
local json_decode, json_encode = json.decode, json.encode
local b64url, unb64url, hmac, equal = crypto.base64url, crypto.unbase64url, crypto.hmac,
  crypto.equal

local _M = { _VERSION = "0.1" }

-- HMAC algorithms and the digest each uses; a secret at least as long as the digest (RFC 7518
-- 3.2), so a token cannot be brute-forced back to a short password.
local HMAC = { HS256 = "sha256", HS384 = "sha384", HS512 = "sha512" }
local MIN_SECRET = { HS256 = 32, HS384 = 48, HS512 = 64 }
-- Public-key algorithms and the JWK key type each takes.
local PUBLIC = { RS256 = "RSA", RS384 = "RSA", RS512 = "RSA", PS256 = "RSA", PS384 = "RSA",
  PS512 = "RSA", ES256 = "EC", ES384 = "EC", ES512 = "EC", EdDSA = "OKP" }
local EC_CURVE = { ES256 = "P-256", ES384 = "P-384", ES512 = "P-521" }
local OKP_CURVE = { Ed25519 = true, Ed448 = true }

local MAX_TOKEN = 16384          -- bytes: far above any real token, far below a DoS
local JWKS_MAX_AGE = 300         -- seconds a document is used without Cache-Control max-age
local JWKS_MIN_AGE = 5
local JWKS_MAX_AGE_CAP = 86400
local JWKS_TIMEOUT = 3           -- seconds one fetch may take
local JWKS_MAX_DOC = 256 * 1024  -- bytes
local MAX_SETS = 32              -- parsed documents one state keeps
local fetch_opts = { timeout = JWKS_TIMEOUT, retries = 1,
  headers = { Accept = "application/jwk-set+json, application/json" } }

local function is_pem(key)
  return type(key) == "string" and string_find(key, "-----BEGIN", 1, true) ~= nil
end

-- ---- options (misuse raises, naming the caller) ----

-- Lists are walked with ipairs, never measured with #: options kept in a mayfly.constant are
-- read-only proxies, whose length reads 0.
local function list_of_strings(v, what)
  if type(v) == "string" then return end
  local n = 0
  if type(v) == "table" then
    for _, x in ipairs(v) do
      if type(x) ~= "string" then n = 0 break end
      n = n + 1
    end
  end
  if n == 0 then
    error("jwt.verify: opts." .. what .. " must be a string or a list of strings", 4)
  end
end

local function check_opts(o)
  if type(o) ~= "table" then error("jwt.verify: opts must be a table", 3) end
  local algs = o.algorithms
  if type(algs) ~= "table" or algs[1] == nil then
    error("jwt.verify: opts.algorithms is required: the algorithms tokens may use, " ..
      "e.g. { \"RS256\" }", 3)
  end
  local key, url = o.key, o.jwks_url
  if (key == nil) == (url == nil) then
    error("jwt.verify: give opts.key or opts.jwks_url (one of them)", 3)
  end
  if key ~= nil and type(key) ~= "string" and type(key) ~= "userdata" then
    error("jwt.verify: opts.key must be a secret or PEM string, or a key of mayfly.crypto", 3)
  end
  if url ~= nil and (type(url) ~= "string" or not string_find(url, "^https?://")) then
    error("jwt.verify: opts.jwks_url must be an http:// or https:// URL", 3)
  end
  for _, a in ipairs(algs) do
    if not HMAC[a] and not PUBLIC[a] and a ~= "none" then
      error("jwt.verify: unknown algorithm '" .. tostring(a) .. "' in opts.algorithms", 3)
    end
    -- A secret too short for its algorithm is a configuration error, wherever it comes from.
    if HMAC[a] and type(key) == "string" and not is_pem(key) and #key < MIN_SECRET[a] then
      error("jwt.verify: " .. a .. " needs a secret of " .. MIN_SECRET[a] ..
        " bytes or more", 3)
    end
  end
  if o.audience ~= nil then list_of_strings(o.audience, "audience") end
  if o.issuer ~= nil then list_of_strings(o.issuer, "issuer") end
  if o.required ~= nil then list_of_strings(o.required, "required") end
  local leeway = o.leeway
  if leeway ~= nil and (type(leeway) ~= "number" or leeway < 0) then
    error("jwt.verify: opts.leeway must be seconds >= 0", 3)
  end
end

local function allowed(algs, alg)
  if alg == "none" then return false end
  for _, a in ipairs(algs) do
    if a == alg then return true end
  end
  return false
end

-- ---- the token ----

-- The decoded JSON object of a base64url segment, or nil: only an object ({...}) is one.
local function decode_object(seg)
  local text = unb64url(seg)
  if not text or not string_find(text, "^%s*{") then return nil end
  local ok, v = pcall(json_decode, text)
  if ok and type(v) == "table" then return v end
  return nil
end


-- ---- JWKS ----

-- What this state parsed: url -> { gen = n, keys = { { jwk = t, key = handle | false }, ... } }.
local sets, nsets = {}, 0

local function keep_set(url, gen, doc)
  local keys = {}
  if type(doc) == "table" and type(doc.keys) == "table" then
    for _, jwk in ipairs(doc.keys) do
      if type(jwk) == "table" then keys[#keys + 1] = { jwk = jwk } end
    end
  end
  if not sets[url] then
    if nsets >= MAX_SETS then sets, nsets = {}, 0 end
    nsets = nsets + 1
  end
  local set = { gen = gen, keys = keys }
  sets[url] = set
  return set
end

local function max_age(cache_control)
  if type(cache_control) ~= "string" then return JWKS_MAX_AGE end
  local cc = string_lower(cache_control)
  if string_find(cc, "no-store", 1, true) or string_find(cc, "no-cache", 1, true) then
    return JWKS_MIN_AGE
  end
  local n = tonumber(string_match(cc, "%f[%w%-]max%-age%s*=%s*\"?(%d+)"))
  if not n then return JWKS_MAX_AGE end
  return math_max(JWKS_MIN_AGE, math_min(n, JWKS_MAX_AGE_CAP))
end

-- Fetches url's document and hands it to the host (store), or gives the claim back (release)
-- when none came. token 0: no claim (a call that cannot wait for another's fetch). Returns the
-- parsed set, or nil and why.
local function fetch(url, token)
  local ok, res, kind, message = pcall(http.get, url, fetch_opts)
  local err, doc
  if not ok then
    err = tostring(res)
  elseif not res then
    err = tostring(kind) .. ": " .. tostring(message)
  elseif res.status ~= 200 then
    err = "status " .. res.status
  elseif #res.body > JWKS_MAX_DOC then
    err = "a document over " .. JWKS_MAX_DOC .. " bytes"
  else
    local decoded, v = pcall(json_decode, res.body)
    if decoded and type(v) == "table" and type(v.keys) == "table" then
      doc = v
    else
      err = "not a JWK set"
    end
  end
  if err then
    if token ~= 0 then jwks.release(url, token) end
    log.warn("jwt: JWKS fetch failed", { url = url, error = err })
    if not ok then error(res, 0) end -- the run's own error (its timeout): passed on as it was
    return nil, err
  end
  local gen = jwks.store(url, token, res.body, max_age(res.headers["cache-control"]))
  return keep_set(url, gen, doc)
end

local function in_list(list, v)
  for _, x in ipairs(list) do
    if x == v then return true end
  end
  return false
end

-- Whether a JWK may verify alg: its use, key_ops and alg respected when present, its key type
-- (and curve) the algorithm's.
local function fits(jwk, alg)
  if jwk.use ~= nil and jwk.use ~= "sig" then return false end
  if jwk.key_ops ~= nil and (type(jwk.key_ops) ~= "table" or not in_list(jwk.key_ops, "verify")) then
    return false
  end
  if jwk.alg ~= nil and jwk.alg ~= alg then return false end
  local kty = PUBLIC[alg]
  if jwk.kty ~= kty then return false end
  if kty == "EC" then return jwk.crv == EC_CURVE[alg] end
  if kty == "OKP" then return OKP_CURVE[jwk.crv] == true end
  return true
end

-- Tries the set's keys that fit (those of kid, when the header names one). Returns true when
-- one verifies; otherwise whether any key was tried. A JWK that mayfly.crypto cannot read, or
-- whose key does not fit the algorithm (an RSA key under 2048 bits), is skipped from then on.
local function try_set(set, kid, alg, input, sig)
  local tried = false
  local keys = set.keys
  for i = 1, #keys do
    local k = keys[i]
    local jwk = k.jwk
    if (kid == nil or jwk.kid == kid) and fits(jwk, alg) then
      local key = k.key
      if key == nil then
        local made, err = crypto.jwk_key(jwk)
        key = made or false
        k.key = key
        if not made then
          log.warn("jwt: a JWK could not be read", { kid = tostring(jwk.kid), error = err })
        end
      end
      if key then
        local ok, err = crypto.verify(alg, key, input, sig)
        if ok then return true end
        if ok == nil then
          k.key = false
          log.warn("jwt: a JWK cannot verify " .. alg, { kid = tostring(jwk.kid), error = err })
        else
          tried = true
        end
      end
    end
  end
  return false, tried
end

-- Verifies with the JWKS at url: the document this state has (or the host's), refreshed when
-- past its max-age or when kid is not in it, within the host's limits.
local function verify_jwks(url, alg, kid, input, sig)
  jwks = jwks or internal "mayfly._jwks"
  for _ = 1, 4 do
    local set = sets[url]
    local gen, due, body = jwks.get(url, set and set.gen or 0)
    if gen == 0 then
      set = nil
    elseif body then
      local ok, doc = pcall(json_decode, body)
      set = keep_set(url, gen, ok and doc)
    end
    local looked = false
    if set and due then
      -- Past its max-age: one request refreshes it, the others go on with it meanwhile.
      local token, why = jwks.claim(url, "due", gen, JWKS_TIMEOUT + 1)
      if token then
        fetch(url, token)
        looked = true
      elseif why == "changed" then
        looked = true
      end
    end
    if not looked then
      if set then
        local ok, tried = try_set(set, kid, alg, input, sig)
        if ok then return true end
        if tried then return nil, "bad signature" end
      end
      -- No document, or none of its keys fits: fetch one, or wait for the fetch under way.
      local token, why = jwks.claim(url, set and "kid" or "due", gen, JWKS_TIMEOUT + 1)
      if token then
        local fetched, err = fetch(url, token)
        if not fetched and not set then return nil, "jwks unavailable", err end
      elseif why == "busy" then
        local ended = jwks.wait(url)
        if ended == nil then
          -- This call cannot wait (it is not a handler's run): it fetches for itself.
          local fetched, err = fetch(url, 0)
          if not fetched then return nil, set and "unknown key" or "jwks unavailable", err end
        elseif not ended then
          return nil, set and "unknown key" or "jwks unavailable", "the JWKS fetch took too long"
        end
      elseif why == "later" then
        if set then return nil, "unknown key", kid and ("no key '" .. kid .. "' for " .. alg) end
        return nil, "jwks unavailable", "the last fetch failed; the next is due within seconds"
      end
    end
  end
  return nil, "unknown key", "the JWKS document kept changing"
end

-- ---- claims ----

local function any_in(want, have)
  if type(want) == "string" then return want == have end
  return in_list(want, have)
end

-- A NumericDate: a finite number (JSON has no NaN or infinity, but a lenient decoder may).
local function is_date(v)
  return type(v) == "number" and v - v == 0
end

local function check_claims(c, o, now)
  local leeway = o.leeway or 0
  local exp, nbf, iat = c.exp, c.nbf, c.iat
  if exp ~= nil then
    if not is_date(exp) then return "malformed", "exp is not a number" end
    if now >= exp + leeway then return "expired" end
  end
  if nbf ~= nil then
    if not is_date(nbf) then return "malformed", "nbf is not a number" end
    if now + leeway < nbf then return "not yet valid" end
  end
  if iat ~= nil then
    if not is_date(iat) then return "malformed", "iat is not a number" end
    if now + leeway < iat then return "not yet valid", "issued in the future" end
  end
  local want, aud = o.audience, c.aud
  if want ~= nil or aud ~= nil then
    -- RFC 7519 4.1.3: a token naming audiences is refused by whoever is none of them.
    if want == nil then return "audience", "the token names an audience: set opts.audience" end
    local ok = false
    if type(aud) == "string" then
      ok = any_in(want, aud)
    elseif type(aud) == "table" then
      for _, a in ipairs(aud) do
        if type(a) == "string" and any_in(want, a) then
          ok = true
          break
        end
      end
    end
    if not ok then return "audience" end
  end
  if o.issuer ~= nil and (type(c.iss) ~= "string" or not any_in(o.issuer, c.iss)) then
    return "issuer"
  end
  local required = o.required
  if type(required) == "string" then
    if c[required] == nil then return "missing claim", required end
  elseif required ~= nil then
    for _, name in ipairs(required) do
      if c[name] == nil then return "missing claim", name end
    end
  end
  return nil
end

-- ---- the functions ----

function _M.verify(token, opts)
  check_opts(opts)
  if type(token) ~= "string" or #token > MAX_TOKEN then return nil, "malformed" end
  local h64, p64, s64 = string_match(token, "^([%w%-_]+)%.([%w%-_]+)%.([%w%-_]*)$")
  if not h64 then return nil, "malformed" end
  local header = decode_object(h64)
  if not header or type(header.alg) ~= "string" then return nil, "malformed", "header" end
  local alg = header.alg
  if not allowed(opts.algorithms, alg) then return nil, "algorithm not allowed", alg end
  -- No extension is understood, so a token that says one is critical is refused (RFC 7515 4.1.11).
  if header.crit ~= nil then return nil, "malformed", "crit" end
  local kid = header.kid
  if kid ~= nil and type(kid) ~= "string" then return nil, "malformed", "kid" end
  local sig = unb64url(s64)
  if not sig then return nil, "malformed", "signature" end
  local input = string_sub(token, 1, #h64 + 1 + #p64)

  local key = opts.key
  local digest = HMAC[alg]
  if digest then
    -- An HMAC secret is never a public key (the classic confusion: a public PEM as the secret)
    -- and never from a JWKS.
    if type(key) ~= "string" or is_pem(key) then
      return nil, "algorithm not allowed", alg .. " needs a secret key"
    end
    if not equal(hmac(digest, key, input), sig) then return nil, "bad signature" end
  elseif key ~= nil then
    if type(key) == "string" and not is_pem(key) then
      return nil, "algorithm not allowed", alg .. " needs a public key, not a secret"
    end
    local ok, err = crypto.verify(alg, key, input, sig)
    -- nil: the key is not of the algorithm's kind (an RSA key for an ES256 token), or no key.
    if ok == nil then return nil, "algorithm not allowed", err end
    if not ok then return nil, "bad signature" end
  else
    local ok, err, detail = verify_jwks(opts.jwks_url, alg, kid, input, sig)
    if not ok then return nil, err, detail end
  end

  local claims = decode_object(p64)
  if not claims then return nil, "malformed", "payload" end
  local err, detail = check_claims(claims, opts, os_time())
  if err then return nil, err, detail end
  return claims
end

function _M.sign(claims, key, alg, header)
  if type(claims) ~= "table" then error("jwt.sign: claims must be a table", 2) end
  if header ~= nil and type(header) ~= "table" then
    error("jwt.sign: the header fields must be a table", 2)
  end
  local h = { alg = alg, typ = "JWT" }
  for k, v in pairs(header or {}) do
    if k ~= "alg" then h[k] = v end
  end
  local digest = HMAC[alg]
  if digest then
    if type(key) ~= "string" or is_pem(key) then
      error("jwt.sign: " .. alg .. " signs with a secret string, not a PEM key", 2)
    end
    if #key < MIN_SECRET[alg] then
      error("jwt.sign: " .. alg .. " needs a secret of " .. MIN_SECRET[alg] .. " bytes or more", 2)
    end
  elseif PUBLIC[alg] then
    if type(key) == "string" and not is_pem(key) then
      error("jwt.sign: " .. alg .. " signs with a PEM private key", 2)
    end
  else
    error("jwt.sign: unknown algorithm '" .. tostring(alg) .. "'", 2)
  end
  local input = b64url(json_encode(h)) .. "." .. b64url(json_encode(claims))
  local sig, err
  if digest then
    sig = hmac(digest, key, input)
  else
    sig, err = crypto.sign(alg, key, input)
    if not sig then error("jwt.sign: " .. tostring(err), 2) end
  end
  return input .. "." .. b64url(sig)
end

return _M

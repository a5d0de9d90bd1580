-- Specs for examples/jwt-api, run with `cd examples/jwt-api && mayfly test`: tokens from
-- POST /token, then the protected routes with them, and with tokens tampered with here.
local testing = require "mayfly.testing"

local SECRET = string.rep("0123456789abcdef", 4)
-- A P-256 key pair made for these specs: it protects nothing, never use it elsewhere.
local TEST_PRIVATE_KEY = [[
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgkCMimDHt2G5edF9q
8gJyaj9lmmD8QG+3PNxVQ3rXAuahRANCAAShpdb6gBvN6MKcAT4kogSC8Pbw0Vtl
PthAu7CxsaUukE7eICoVXDA9K8A5FBC88hddQPrB20MA8E3UlHDVjZB4
-----END PRIVATE KEY-----
]]
local TEST_PUBLIC_KEY = [[
-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoaXW+oAbzejCnAE+JKIEgvD28NFb
ZT7YQLuwsbGlLpBO3iAqFVwwPSvAORQQvPIXXUD6wdtDAPBN1JRw1Y2QeA==
-----END PUBLIC KEY-----
]]

-- base64url, for the tokens these specs forge (plain Lua: specs have no mayfly.crypto).
local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function b64url(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = 2 + (b and 1 or 0) + (c and 1 or 0)
    for k = 1, chars do
      local v = math.floor(n / 2 ^ (18 - 6 * (k - 1))) % 64
      out[#out + 1] = ALPHABET:sub(v + 1, v + 1)
    end
  end
  return table.concat(out)
end
local function unb64url(s)
  local bits, out = {}, {}
  for ch in s:gmatch(".") do
    local v = ALPHABET:find(ch, 1, true) - 1
    for k = 5, 0, -1 do bits[#bits + 1] = math.floor(v / 2 ^ k) % 2 end
  end
  for i = 1, #bits - 7, 8 do
    local n = 0
    for k = 0, 7 do n = n * 2 + bits[i + k] end
    out[#out + 1] = string.char(n)
  end
  return table.concat(out)
end

local function token_for(user, scope)
  local res = testing.request("POST", "/token",
    { json = { user = user, password = "letmein", scope = scope } })
  assert.are.equal(200, res.status)
  return res.json.access_token, res
end

local function get(path, token)
  return testing.request("GET", path, { headers = { authorization = token and "Bearer " .. token } })
end

local function post_note(token, text)
  return testing.request("POST", "/notes",
    { headers = { authorization = "Bearer " .. token }, json = { text = text } })
end

describe("with a shared secret (HS256)", function()
  before_each(function() testing.config({ jwt_secret = SECRET }) end)

  it("issues a token that opens /me", function()
    local token, res = token_for("ada")
    assert.are.equal("Bearer", res.json.token_type)
    assert.are.equal(900, res.json.expires_in)
    assert.are.equal("no-store", res.headers["cache-control"])
    assert.is_truthy(unb64url(token:match("^[^.]+")):find('"alg":"HS256"', 1, true))
    local me = get("/me", token)
    assert.are.equal(200, me.status)
    assert.are.equal("ada", me.json.user)
    assert.are.equal("notes:read notes:write", me.json.scope)
  end)

  it("answers 401 with WWW-Authenticate without a token", function()
    local res = get("/me")
    assert.are.equal(401, res.status)
    assert.are.equal('Bearer realm="jwt-api"', res.headers["www-authenticate"])
  end)

  it("refuses a token whose claims were changed", function()
    local h, _, s = token_for("ada"):match("^([^.]+)%.([^.]+)%.([^.]+)$")
    local forged = h .. "." .. b64url('{"sub":"admin","exp":9999999999,"aud":"jwt-api","iss":"jwt-api"}') .. "." .. s
    local res = get("/me", forged)
    assert.are.equal(401, res.status)
    assert.are.equal("bad signature", res.json.error)
    assert.is_truthy(res.headers["www-authenticate"]:find('error="invalid_token"', 1, true))
  end)

  it('refuses alg "none"', function()
    local payload = token_for("ada"):match("^[^.]+%.([^.]+)%.")
    local res = get("/me", b64url('{"alg":"none","typ":"JWT"}') .. "." .. payload .. ".")
    assert.are.equal(401, res.status)
    assert.are.equal("algorithm not allowed", res.json.error)
  end)

  it("refuses a token signed with another secret", function()
    local token = token_for("ada")
    testing.config({ jwt_secret = string.rep("x", 64) })
    assert.are.equal("bad signature", get("/me", token).json.error)
  end)

  it("refuses an expired token", function()
    testing.config({ jwt_secret = SECRET, token_ttl = 1, jwt_leeway = 0 })
    local token, res = token_for("ada")
    assert.are.equal(1, res.json.expires_in)
    local exp = os.time() + 1
    repeat os.execute("sleep 0.2") until os.time() >= exp
    local me = get("/me", token)
    assert.are.equal(401, me.status)
    assert.are.equal("expired", me.json.error)
    assert.is_truthy(me.headers["www-authenticate"]:find('error_description="expired"', 1, true))
  end)

  it("keeps each user's notes", function()
    local ada, bob = token_for("ada"), token_for("bob")
    assert.are.equal(201, post_note(ada, "buy tea").status)
    assert.are.equal(2, post_note(ada, "call bob").json.count)
    assert.are.same({ "buy tea", "call bob" }, get("/notes", ada).json.notes)
    assert.are.same({}, get("/notes", bob).json.notes)
  end)

  it("answers 403 when the token lacks the scope", function()
    local reader = token_for("ada", "notes:read")
    assert.are.equal(200, get("/notes", reader).status)
    local res = post_note(reader, "no")
    assert.are.equal(403, res.status)
    assert.is_truthy(res.headers["www-authenticate"]:find('error="insufficient_scope", scope="notes:write"', 1, true))
  end)

  it("refuses unknown scopes and wrong passwords at /token", function()
    local res = testing.request("POST", "/token", { json = { user = "ada", password = "letmein", scope = "admin" } })
    assert.are.equal(400, res.status)
    assert.are.equal("invalid_scope", res.json.error)
    res = testing.request("POST", "/token", { json = { user = "ada", password = "nope" } })
    assert.are.equal(401, res.status)
    assert.are.equal("invalid_grant", res.json.error)
  end)
end)

describe("with a key pair (ES256)", function()
  before_each(function()
    testing.config({ jwt_private_key = TEST_PRIVATE_KEY, jwt_public_key = TEST_PUBLIC_KEY })
  end)

  it("issues ES256 tokens with a kid that open /me", function()
    local token = token_for("ada")
    local header = unb64url(token:match("^[^.]+"))
    assert.is_truthy(header:find('"alg":"ES256"', 1, true))
    assert.is_truthy(header:find('"kid":"jwt-api-1"', 1, true))
    assert.are.equal("ada", get("/me", token).json.user)
  end)

  it("refuses an HS256 token where ES256 is expected", function()
    testing.config({ jwt_secret = SECRET })
    local token = token_for("ada")
    testing.config({ jwt_public_key = TEST_PUBLIC_KEY })
    local res = get("/me", token)
    assert.are.equal(401, res.status)
    assert.are.equal("algorithm not allowed", res.json.error)
  end)
end)

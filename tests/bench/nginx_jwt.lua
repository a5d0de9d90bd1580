-- tests/bench/nginx_jwt.lua — JWT verification for nginx + lua-nginx-module, the peer of
-- mayfly.jwt.verify in tests/bench/jwt.sh (loaded by tests/bench/nginx_jwt.conf.in).
--
-- Debian packages neither lua-resty-jwt nor lua-resty-openssl, so this binds the libcrypto that
-- nginx itself links (its symbols are in ffi.C) with LuaJIT's FFI, in the fastest way measured
-- (standalone LuaJIT, OpenSSL 3.0, per call):
--   HS256  one EVP_MAC_CTX per worker, keyed once with the secret; per token EVP_MAC_init with
--          no key (OpenSSL reuses the keyed state: no ipad/opad blocks again), update, final,
--          compared with CRYPTO_memcmp: 0.27 us for 200 bytes, where HMAC() costs 1.08 us (it
--          fetches the algorithm each call) and a context keyed per call 0.43 us
--   RS256  the PEM key read once (PEM_read_bio_PUBKEY), one EVP_PKEY_CTX per worker set up once
--          for PKCS#1 v1.5 with SHA-256 (EVP_PKEY_verify may be called again on a context with
--          the same parameters); per token SHA256() of the signing input and EVP_PKEY_verify:
--          13.9 us, where EVP_DigestVerifyInit/Update/Final per token costs 16.0 us
-- Base64url is ngx.base64.decode_base64url (lua-resty-core: nginx's own decoder through FFI),
-- JSON is lua-cjson (cjson.safe), time ngx.time(). The signing input and the MAC are handed to
-- libcrypto in place (the token's own bytes, a length), never copied.
--
-- The checks are mayfly.jwt.verify's for a key given in the options: at most 16 KiB, three
-- segments, a header that is a JSON object whose alg is the route's one ("none" never is), no
-- crit, kid a string when present, the signature verified before the payload is decoded, then
-- exp, nbf and iat checked (no leeway) when present, each a number.
local ffi = require "ffi"
local cjson = require "cjson.safe"
local base64 = require "ngx.base64"

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
typedef struct evp_mac_st EVP_MAC;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
typedef struct bio_st BIO;
typedef struct ossl_param_st {
    const char *key; unsigned int data_type; void *data; size_t data_size; size_t return_size;
} OSSL_PARAM;

EVP_MAC *EVP_MAC_fetch(void *libctx, const char *algorithm, const char *properties);
EVP_MAC_CTX *EVP_MAC_CTX_new(EVP_MAC *mac);
int EVP_MAC_init(EVP_MAC_CTX *ctx, const unsigned char *key, size_t keylen,
                 const OSSL_PARAM params[]);
int EVP_MAC_update(EVP_MAC_CTX *ctx, const unsigned char *data, size_t datalen);
int EVP_MAC_final(EVP_MAC_CTX *ctx, unsigned char *out, size_t *outl, size_t outsize);
OSSL_PARAM OSSL_PARAM_construct_utf8_string(const char *key, char *buf, size_t bsize);
OSSL_PARAM OSSL_PARAM_construct_end(void);
int CRYPTO_memcmp(const void *a, const void *b, size_t len);

const EVP_MD *EVP_sha256(void);
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
BIO *BIO_new_mem_buf(const void *buf, int len);
int BIO_free(BIO *a);
EVP_PKEY *PEM_read_bio_PUBKEY(BIO *bp, EVP_PKEY **x, void *cb, void *u);
int EVP_PKEY_get_bits(const EVP_PKEY *pkey);
int EVP_PKEY_get_base_id(const EVP_PKEY *pkey);
EVP_PKEY_CTX *EVP_PKEY_CTX_new(EVP_PKEY *pkey, void *engine);
int EVP_PKEY_verify_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_CTX_set_rsa_padding(EVP_PKEY_CTX *ctx, int pad);
int EVP_PKEY_CTX_set_signature_md(EVP_PKEY_CTX *ctx, const EVP_MD *md);
int EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen,
                    const unsigned char *tbs, size_t tbslen);
void ERR_clear_error(void);
]]

local C = ffi.C
local type, error = type, error
local byte, find, sub = string.byte, string.find, string.sub
local decode_base64url, json_decode = base64.decode_base64url, cjson.decode
local ngx_time, ngx_var, ngx_print, ngx_header = ngx.time, ngx.var, ngx.print, ngx.header

local MAX_TOKEN = 16384
local EVP_PKEY_RSA = 6
local RSA_PKCS1_PADDING = 1

local mac_ctx, pkey_ctx -- made by init, per worker after the fork
local mac = ffi.new("unsigned char[64]")
local mac_len = ffi.new("size_t[1]")
local digest = ffi.new("unsigned char[32]")

local _M = {}

local function read_file(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

-- init(secret_file, pem_file): in init_by_lua, before nginx forks its workers: the secret keyed
-- into the MAC context and the public key parsed, once.
function _M.init(secret_file, pem_file)
    local secret = read_file(secret_file):gsub("\n$", "")
    assert(#secret >= 32, "HS256 needs a secret of 32 bytes or more")
    local hmac = C.EVP_MAC_fetch(nil, "HMAC", nil)
    assert(hmac ~= nil, "EVP_MAC_fetch")
    mac_ctx = C.EVP_MAC_CTX_new(hmac)
    local params = ffi.new("OSSL_PARAM[2]")
    local name = ffi.new("char[7]", "SHA256")
    params[0] = C.OSSL_PARAM_construct_utf8_string("digest", name, 0)
    params[1] = C.OSSL_PARAM_construct_end()
    assert(C.EVP_MAC_init(mac_ctx, secret, #secret, params) == 1, "EVP_MAC_init")

    local pem = read_file(pem_file)
    local bio = C.BIO_new_mem_buf(pem, #pem)
    local pkey = C.PEM_read_bio_PUBKEY(bio, nil, nil, nil)
    C.BIO_free(bio)
    assert(pkey ~= nil, "PEM_read_bio_PUBKEY")
    assert(C.EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA and C.EVP_PKEY_get_bits(pkey) >= 2048,
        "RS256 needs an RSA key of 2048 bits or more")
    pkey_ctx = C.EVP_PKEY_CTX_new(pkey, nil)
    assert(C.EVP_PKEY_verify_init(pkey_ctx) == 1 and
        C.EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PADDING) == 1 and
        C.EVP_PKEY_CTX_set_signature_md(pkey_ctx, C.EVP_sha256()) == 1, "EVP_PKEY_verify_init")
end

-- Whether sig is the HMAC-SHA256 of token's first n bytes.
local function hs256(token, n, sig)
    if #sig ~= 32 then return false end
    if C.EVP_MAC_init(mac_ctx, nil, 0, nil) ~= 1 or C.EVP_MAC_update(mac_ctx, token, n) ~= 1
        or C.EVP_MAC_final(mac_ctx, mac, mac_len, 64) ~= 1 then
        error("HMAC failed")
    end
    return C.CRYPTO_memcmp(mac, sig, 32) == 0
end

-- Whether sig is an RS256 signature of token's first n bytes.
local function rs256(token, n, sig)
    C.SHA256(token, n, digest)
    if C.EVP_PKEY_verify(pkey_ctx, sig, #sig, digest, 32) == 1 then return true end
    C.ERR_clear_error() -- a refused signature leaves errors queued
    return false
end

local SIGNATURE = { HS256 = hs256, RS256 = rs256 }

-- The decoded JSON object of a base64url segment, or nil. A compact JWS has no whitespace
-- around its objects, so the first byte must open one.
local function decode_object(seg)
    local text = decode_base64url(seg)
    if not text or byte(text, 1) ~= 123 then return nil end
    local v = json_decode(text)
    if type(v) == "table" then return v end
    return nil
end

local function is_date(v)
    return type(v) == "number" and v - v == 0
end

-- verify(token, alg): the claims, or nil and mayfly.jwt's reason.
function _M.verify(token, alg)
    if type(token) ~= "string" or #token > MAX_TOKEN then return nil, "malformed" end
    local dot1 = find(token, ".", 1, true)
    local dot2 = dot1 and find(token, ".", dot1 + 1, true)
    if not dot2 or find(token, ".", dot2 + 1, true) then return nil, "malformed" end
    local header = decode_object(sub(token, 1, dot1 - 1))
    if not header or type(header.alg) ~= "string" then return nil, "malformed" end
    if header.alg ~= alg then return nil, "algorithm not allowed" end
    if header.crit ~= nil then return nil, "malformed" end
    local kid = header.kid
    if kid ~= nil and type(kid) ~= "string" then return nil, "malformed" end
    local sig = decode_base64url(sub(token, dot2 + 1))
    if not sig then return nil, "malformed" end
    if not SIGNATURE[alg](token, dot2 - 1, sig) then return nil, "bad signature" end

    local claims = decode_object(sub(token, dot1 + 1, dot2 - 1))
    if not claims then return nil, "malformed" end
    local now = ngx_time()
    local exp, nbf, iat = claims.exp, claims.nbf, claims.iat
    if exp ~= nil then
        if not is_date(exp) then return nil, "malformed" end
        if now >= exp then return nil, "expired" end
    end
    if nbf ~= nil then
        if not is_date(nbf) then return nil, "malformed" end
        if now < nbf then return nil, "not yet valid" end
    end
    if iat ~= nil then
        if not is_date(iat) then return nil, "malformed" end
        if now < iat then return nil, "not yet valid" end
    end
    return claims
end

-- The request's bearer token: the Authorization header's, or the access_token query argument
-- (RFC 6750 2.3: how the callgrind client of tests/bench/lib.sh, which sends no headers, gives it).
local function bearer()
    local auth = ngx_var.http_authorization
    if auth then
        if sub(auth, 1, 7) == "Bearer " then return sub(auth, 8) end
        return nil
    end
    return ngx_var.arg_access_token
end

-- Sent with a Content-Length, as mayfly sends it (and as the callgrind client needs), not chunked.
local function respond(status, body)
    ngx.status = status
    ngx_header.content_length = #body
    return ngx_print(body)
end

-- serve(alg): the content handler of one route: the token verified with alg, the answer its
-- sub claim; 401 with the reason otherwise. serve(nil): the token read and not verified, the
-- baseline of what the rest of a request costs.
function _M.serve(alg)
    local token = bearer()
    if not token then return respond(401, "no token") end
    if not alg then return respond(200, "bench-user") end
    local claims, err = _M.verify(token, alg)
    if not claims then return respond(401, err) end
    return respond(200, claims.sub)
end

return _M

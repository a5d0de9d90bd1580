/* mayfly.crypto's public-key signatures: sign and verify with the algorithms of JWS (RFC 7518
 * section 3, RFC 8037's EdDSA) on OpenSSL's EVP, with keys from PEM text or a JWK.
 *
 * verify answers true, false (the signature does not verify, whatever its shape), or nil, err
 * (the key cannot be read or does not fit the algorithm): the token and its header are the
 * client's, so nothing about them raises. sign raises, its key being the script's own.
 *
 * Parsed PEM keys are kept process-wide by their text: OpenSSL 3's decoders take about 250 us
 * to read a 2048-bit RSA public key, ten times the verification itself, and a service verifies
 * with the same few keys on every request. The cache is small (CACHE_SLOTS, least recently
 * used out), locked (workers share it), and an EVP_PKEY it hands out carries a reference of
 * its own, so an eviction never frees a key in use. A key is found only by presenting its whole
 * text, so a cached key reaches no one who did not have it. */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "lua/api/crypto.h"

#define KEY_MT "mayfly.crypto.key"
#define RSA_MIN_BITS 2048 /* RFC 7518 section 3.3: "a key of size 2048 bits or larger MUST" */
#define SIG_MAX 2048      /* bytes of a signature: RSA keys up to 16384 bits */
#define PEM_MAX 65536     /* longer key text is no key */
#define PUBLIC_PEM_MAX 8192
#define CACHE_SLOTS 64
#define CACHE_TEXT_MAX 16384

typedef enum { SIG_RSA, SIG_PSS, SIG_EC, SIG_EDDSA } sig_kind_t;

typedef struct {
    const char *name;
    sig_kind_t kind;
    const char *digest; /* NULL for EdDSA, whose scheme hashes itself */
    int curve;          /* EC: the NID of the key's group */
    size_t half;        /* EC: bytes of r and of s in JWS's form, r || s */
} sig_alg_t;

static const sig_alg_t sig_algs[] = {
    {"RS256", SIG_RSA, "SHA256", 0, 0},
    {"RS384", SIG_RSA, "SHA384", 0, 0},
    {"RS512", SIG_RSA, "SHA512", 0, 0},
    {"PS256", SIG_PSS, "SHA256", 0, 0},
    {"PS384", SIG_PSS, "SHA384", 0, 0},
    {"PS512", SIG_PSS, "SHA512", 0, 0},
    {"ES256", SIG_EC, "SHA256", NID_X9_62_prime256v1, 32},
    {"ES384", SIG_EC, "SHA384", NID_secp384r1, 48},
    {"ES512", SIG_EC, "SHA512", NID_secp521r1, 66},
    {"EdDSA", SIG_EDDSA, NULL, 0, 0},
};
#define ALG_LIST "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA"

static const sig_alg_t *sig_alg(const char *name)
{
    for (size_t i = 0; i < sizeof sig_algs / sizeof *sig_algs; i++)
        if (!strcmp(name, sig_algs[i].name))
            return &sig_algs[i];
    return NULL;
}

/* Writes the message into err; returns 0 for the callers' `return fail(...)`. */
static int fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return 0;
}

/* As fail, with OpenSSL's reason appended and its queue emptied. */
static int fail_openssl(char *err, size_t size, const char *what)
{
    const char *reason = ERR_reason_error_string(ERR_peek_last_error());
    snprintf(err, size, "%s (OpenSSL: %s)", what, reason ? reason : "no reason given");
    ERR_clear_error();
    return 0;
}

/* ---- the key handle of crypto.jwk_key ---- */

typedef struct {
    EVP_PKEY *pkey; /* NULL until built, and after __gc */
} key_box_t;

static key_box_t *key_box(lua_State *L, int idx)
{
    key_box_t *box = lua_touserdata(L, idx);
    if (!box || !lua_getmetatable(L, idx))
        return NULL;
    luaL_getmetatable(L, KEY_MT);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same && box->pkey ? box : NULL;
}

static int key_gc(lua_State *L)
{
    key_box_t *box = lua_touserdata(L, 1);
    EVP_PKEY_free(box->pkey);
    box->pkey = NULL;
    return 0;
}

static int curve_nid(EVP_PKEY *pkey)
{
    char name[64];
    size_t len;
    if (!EVP_PKEY_get_group_name(pkey, name, sizeof name, &len))
        return NID_undef;
    int nid = OBJ_sn2nid(name);
    return nid != NID_undef ? nid : EC_curve_nist2nid(name);
}

/* "RSA 2048 bits", "EC P-256", "ED25519": what a message calls the key. */
static const char *describe(EVP_PKEY *pkey, char *buf, size_t size)
{
    const char *type = EVP_PKEY_get0_type_name(pkey);
    if (EVP_PKEY_is_a(pkey, "RSA"))
        snprintf(buf, size, "RSA %d bits", EVP_PKEY_get_bits(pkey));
    else if (EVP_PKEY_is_a(pkey, "EC")) {
        const char *curve = EC_curve_nid2nist(curve_nid(pkey));
        snprintf(buf, size, "EC %s", curve ? curve : "on another curve");
    } else
        snprintf(buf, size, "%s", type ? type : "of an unknown type");
    return buf;
}

static int key_tostring(lua_State *L)
{
    key_box_t *box = lua_touserdata(L, 1);
    char what[64];
    lua_pushfstring(L, "mayfly.crypto key: %s",
                    box->pkey ? describe(box->pkey, what, sizeof what) : "freed");
    return 1;
}

/* ---- PEM text, and the cache of what it parsed to ---- */

typedef struct {
    char *text; /* NULL: a free slot */
    size_t len;
    uint64_t hash;
    int private;
    EVP_PKEY *pkey;
    uint64_t used; /* the cache's clock when last found */
} cache_slot_t;

static struct {
    pthread_mutex_t lock;
    uint64_t clock;
    cache_slot_t slots[CACHE_SLOTS];
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Called with the lock held. The text is compared in constant time: a private key's text is a
 * secret, and a match on its hash alone would not be proof. */
static cache_slot_t *cache_find(int private, const char *text, size_t len, uint64_t hash)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        cache_slot_t *s = &cache.slots[i];
        if (s->text && s->hash == hash && s->len == len && s->private == private &&
            !CRYPTO_memcmp(s->text, text, len))
            return s;
    }
    return NULL;
}

/* The cached key of the text, with a reference for the caller, or NULL. */
static EVP_PKEY *cache_get(int private, const char *text, size_t len, uint64_t hash)
{
    EVP_PKEY *pkey = NULL;
    pthread_mutex_lock(&cache.lock);
    cache_slot_t *s = cache_find(private, text, len, hash);
    if (s && EVP_PKEY_up_ref(s->pkey)) {
        s->used = ++cache.clock;
        pkey = s->pkey;
    }
    pthread_mutex_unlock(&cache.lock);
    return pkey;
}

/* Keeps pkey (a reference of the cache's own) under its text, in place of the slot used least
 * recently. Another thread may have parsed the same text meanwhile: then its entry stays. */
static void cache_put(int private, const char *text, size_t len, uint64_t hash, EVP_PKEY *pkey)
{
    if (len > CACHE_TEXT_MAX)
        return;
    pthread_mutex_lock(&cache.lock);
    if (!cache_find(private, text, len, hash) && EVP_PKEY_up_ref(pkey)) {
        cache_slot_t *victim = &cache.slots[0];
        for (int i = 0; i < CACHE_SLOTS && victim->text; i++)
            if (!cache.slots[i].text || cache.slots[i].used < victim->used)
                victim = &cache.slots[i];
        if (victim->text) {
            OPENSSL_cleanse(victim->text, victim->len);
            free(victim->text);
            EVP_PKEY_free(victim->pkey);
        }
        victim->text = mf_xmalloc(len ? len : 1);
        memcpy(victim->text, text, len);
        victim->len = len;
        victim->hash = hash;
        victim->private = private;
        victim->pkey = pkey;
        victim->used = ++cache.clock;
    }
    pthread_mutex_unlock(&cache.lock);
}

/* Never asks for a password (OpenSSL's default would prompt on the terminal). */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

static EVP_PKEY *pem_parse(int private, const char *text, size_t len, char *err, size_t size)
{
    EVP_PKEY *pkey = NULL;
    if (len > PEM_MAX) {
        fail(err, size, "key text of %zu bytes is too long", len);
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    if (!bio) {
        fail_openssl(err, size, "cannot read the key");
        return NULL;
    }
    if (private) {
        if (!(pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL)))
            fail(err, size,
                 "not a PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC "
                 "PRIVATE KEY, unencrypted)");
    } else if (memmem(text, len, "-----BEGIN CERTIFICATE-----", 27)) {
        X509 *x509 = PEM_read_bio_X509(bio, NULL, no_password, NULL);
        if (!x509 || !(pkey = X509_get_pubkey(x509)))
            fail(err, size, "a certificate OpenSSL cannot read");
        X509_free(x509);
    } else {
        OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL,
                                                               EVP_PKEY_PUBLIC_KEY, NULL, NULL);
        if (!dctx || !OSSL_DECODER_from_bio(dctx, bio) || !pkey) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
            fail(err, size,
                 "not a PEM public key (BEGIN PUBLIC KEY or RSA PUBLIC KEY) or "
                 "certificate");
        }
        OSSL_DECODER_CTX_free(dctx);
    }
    BIO_free(bio);
    ERR_clear_error();
    return pkey;
}

/* The key at idx (PEM text, or for a public key a key handle; the caller checked which) with a
 * reference the caller frees, or NULL with err. */
static EVP_PKEY *key_get(lua_State *L, int idx, int private, char *err, size_t size)
{
    key_box_t *box = key_box(L, idx);
    if (box) {
        if (EVP_PKEY_up_ref(box->pkey))
            return box->pkey;
        fail_openssl(err, size, "cannot use the key");
        return NULL;
    }
    size_t len;
    const char *text = lua_tolstring(L, idx, &len);
    uint64_t hash = mf_hash(MF_HASH_INIT, text, len);
    EVP_PKEY *pkey = cache_get(private, text, len, hash);
    if (!pkey && (pkey = pem_parse(private, text, len, err, size)))
        cache_put(private, text, len, hash, pkey);
    return pkey;
}

/* Whether the key is of the algorithm's type (and curve, and size); err says why not. */
static int key_fits(const sig_alg_t *a, EVP_PKEY *pkey, char *err, size_t size)
{
    char what[64];
    switch (a->kind) {
    case SIG_RSA:
    case SIG_PSS:
        if (!EVP_PKEY_is_a(pkey, "RSA"))
            return fail(err, size, "%s needs an RSA key, not %s", a->name,
                        describe(pkey, what, sizeof what));
        if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS || EVP_PKEY_get_size(pkey) > SIG_MAX)
            return fail(err, size, "%s needs an RSA key of 2048 to 16384 bits, not %s", a->name,
                        describe(pkey, what, sizeof what));
        return 1;
    case SIG_EC:
        if (!EVP_PKEY_is_a(pkey, "EC") || curve_nid(pkey) != a->curve)
            return fail(err, size, "%s needs an EC key on %s, not %s", a->name,
                        EC_curve_nid2nist(a->curve), describe(pkey, what, sizeof what));
        return 1;
    case SIG_EDDSA:
        if (!EVP_PKEY_is_a(pkey, "ED25519") && !EVP_PKEY_is_a(pkey, "ED448"))
            return fail(err, size, "EdDSA needs an Ed25519 or Ed448 key, not %s",
                        describe(pkey, what, sizeof what));
        return 1;
    }
    return 0;
}

/* ---- signatures ---- */

/* RFC 7518 section 3.5: PSS with MGF1 of the same hash and a salt as long as the hash. */
static int setup_padding(const sig_alg_t *a, EVP_PKEY_CTX *pctx)
{
    return a->kind != SIG_PSS ||
           (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0);
}

/* JWS's r || s as the DER OpenSSL verifies, in *der (OPENSSL_free); its length, or -1. */
static int jws_to_der(const unsigned char *sig, size_t half, unsigned char **der)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *s = BN_bin2bn(sig + half, (int)half, NULL);
    int len = -1;
    if (es && r && s && ECDSA_SIG_set0(es, r, s)) {
        r = s = NULL; /* es owns them */
        len = i2d_ECDSA_SIG(es, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return len;
}

/* 1: the signature verifies, 0: it does not, -1: OpenSSL could not try (err). */
static int verify_with(const sig_alg_t *a, EVP_PKEY *pkey, const unsigned char *msg, size_t msg_len,
                       const unsigned char *sig, size_t sig_len, char *err, size_t size)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    int rc = -1;
    if (!ctx || EVP_DigestVerifyInit_ex(ctx, &pctx, a->digest, NULL, NULL, pkey, NULL) != 1 ||
        !setup_padding(a, pctx)) {
        fail_openssl(err, size, "cannot verify with the key");
        goto done;
    }
    if (a->kind == SIG_EC) {
        if (sig_len != 2 * a->half) {
            rc = 0; /* JWS's form has exactly this length (RFC 7518 section 3.4) */
            goto done;
        }
        int der_len = jws_to_der(sig, a->half, &der);
        if (der_len < 0) {
            fail_openssl(err, size, "cannot read the signature");
            goto done;
        }
        sig = der;
        sig_len = (size_t)der_len;
    }
    rc = EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;
done:
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* Writes the signature (JWS's form) into out; its length, or -1 with err. */
static long sign_with(const sig_alg_t *a, EVP_PKEY *pkey, const unsigned char *msg, size_t msg_len,
                      unsigned char out[SIG_MAX], char *err, size_t size)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    ECDSA_SIG *es = NULL;
    size_t len = SIG_MAX;
    long rc = -1;
    if (!ctx || EVP_DigestSignInit_ex(ctx, &pctx, a->digest, NULL, NULL, pkey, NULL) != 1 ||
        !setup_padding(a, pctx) || EVP_DigestSign(ctx, out, &len, msg, msg_len) != 1) {
        fail_openssl(err, size, "cannot sign with the key");
        goto done;
    }
    if (a->kind == SIG_EC) {
        /* OpenSSL's DER, rewritten in place as r || s */
        unsigned char der[SIG_MAX];
        const unsigned char *p = der;
        const BIGNUM *r, *s;
        memcpy(der, out, len);
        if (!(es = d2i_ECDSA_SIG(NULL, &p, (long)len))) {
            fail_openssl(err, size, "cannot read OpenSSL's signature");
            goto done;
        }
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_bn2binpad(r, out, (int)a->half) < 0 ||
            BN_bn2binpad(s, out + a->half, (int)a->half) < 0) {
            fail_openssl(err, size, "cannot write the signature");
            goto done;
        }
        len = 2 * a->half;
    }
    rc = (long)len;
done:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

static int l_crypto_verify(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (lua_type(L, 2) != LUA_TSTRING && !key_box(L, 2))
        return luaL_argerror(L, 2, "a PEM public key or a key of crypto.jwk_key expected");
    size_t msg_len, sig_len;
    const char *msg = luaL_checklstring(L, 3, &msg_len);
    const char *sig = luaL_checklstring(L, 4, &sig_len);
    const sig_alg_t *a = sig_alg(name);
    EVP_PKEY *pkey = NULL;
    char err[256];
    int rc = -1;
    if (!a)
        fail(err, sizeof err, "unknown algorithm '%s' (" ALG_LIST ")", name);
    else if ((pkey = key_get(L, 2, 0, err, sizeof err)) && key_fits(a, pkey, err, sizeof err))
        rc = verify_with(a, pkey, (const unsigned char *)msg, msg_len, (const unsigned char *)sig,
                         sig_len, err, sizeof err);
    EVP_PKEY_free(pkey);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "verify: %s", err);
        return 2;
    }
    lua_pushboolean(L, rc);
    return 1;
}

static int l_crypto_sign(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_argerror(L, 2, "a PEM private key expected");
    size_t msg_len;
    const char *msg = luaL_checklstring(L, 3, &msg_len);
    const sig_alg_t *a = sig_alg(name);
    if (!a)
        return luaL_error(L, "mayfly.crypto.sign: unknown algorithm '%s' (" ALG_LIST ")", name);
    unsigned char out[SIG_MAX];
    char err[256];
    long len = -1;
    EVP_PKEY *pkey = key_get(L, 2, 1, err, sizeof err);
    if (pkey && key_fits(a, pkey, err, sizeof err))
        len = sign_with(a, pkey, (const unsigned char *)msg, msg_len, out, err, sizeof err);
    EVP_PKEY_free(pkey);
    if (len < 0)
        return luaL_error(L, "mayfly.crypto.sign: %s", err);
    lua_pushlstring(L, (const char *)out, (size_t)len);
    return 1;
}

/* ---- JWK (RFC 7517, RFC 7518 section 6, RFC 8037) ---- */

enum { JWK_KTY, JWK_CRV, JWK_N, JWK_E, JWK_X, JWK_Y, JWK_FIELDS };
static const char *const jwk_names[JWK_FIELDS] = {"kty", "crv", "n", "e", "x", "y"};

typedef struct {
    const char *v[JWK_FIELDS]; /* NULL: absent or not a string */
    size_t len[JWK_FIELDS];
} jwk_t;

/* Decodes the base64url member f into out (max bytes); its length, or -1 with err. */
static long jwk_bytes(const jwk_t *j, int f, unsigned char *out, size_t max, char *err, size_t size)
{
    const char *why = NULL;
    long n = -1;
    if (!j->v[f])
        fail(err, size, "no %s", jwk_names[f]);
    else if (MF_BASE64_DECODED_MAX(j->len[f]) > max)
        fail(err, size, "%s is too long", jwk_names[f]);
    else if ((n = mf_base64_decode(MF_BASE64_URL, j->v[f], j->len[f], out, &why)) < 0)
        fail(err, size, "%s is not base64url: %s", jwk_names[f], why);
    return n;
}

static int is(const jwk_t *j, int f, const char *want)
{
    return j->v[f] && j->len[f] == strlen(want) && !memcmp(j->v[f], want, j->len[f]);
}

static EVP_PKEY *jwk_rsa(const jwk_t *j, char *err, size_t size)
{
    unsigned char n[SIG_MAX + 2], e[64];
    long n_len = jwk_bytes(j, JWK_N, n, sizeof n, err, size), e_len = -1;
    if (n_len < 0 || (e_len = jwk_bytes(j, JWK_E, e, sizeof e, err, size)) < 0)
        return NULL;
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL), *bn_e = BN_bin2bn(e, (int)e_len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        fail_openssl(err, size, "not an RSA public key");
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

static EVP_PKEY *jwk_ec(const jwk_t *j, char *err, size_t size)
{
    static const struct {
        const char *crv;
        size_t size;
    } curves[] = {{"P-256", 32}, {"P-384", 48}, {"P-521", 66}};
    size_t c = 0;
    while (c < 3 && !is(j, JWK_CRV, curves[c].crv))
        c++;
    if (c == 3)
        return fail(err, size, "crv of an EC key is P-256, P-384 or P-521"), NULL;
    /* The uncompressed point: 04 || x || y, each as long as the field (RFC 7518 6.2.1.2). */
    unsigned char point[1 + 2 * 66 + 2];
    size_t half = curves[c].size;
    long x_len = jwk_bytes(j, JWK_X, point + 1, half + 2, err, size), y_len = -1;
    if (x_len < 0 || (y_len = jwk_bytes(j, JWK_Y, point + 1 + half, half + 2, err, size)) < 0)
        return NULL;
    if ((size_t)x_len != half || (size_t)y_len != half)
        return fail(err, size, "x and y of a %s key are %zu bytes each", curves[c].crv, half), NULL;
    point[0] = 4;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curves[c].crv, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * half),
        OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL), *check = NULL;
    EVP_PKEY *pkey = NULL;
    if (!pctx || EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 ||
        !(check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) ||
        EVP_PKEY_public_check(check) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
        fail_openssl(err, size, "x and y are not a point of the curve");
    }
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(pctx);
    return pkey;
}

static EVP_PKEY *jwk_okp(const jwk_t *j, char *err, size_t size)
{
    int ed448 = is(j, JWK_CRV, "Ed448");
    if (!ed448 && !is(j, JWK_CRV, "Ed25519"))
        return fail(err, size, "crv of an OKP key is Ed25519 or Ed448"), NULL;
    unsigned char x[57 + 2];
    size_t want = ed448 ? 57 : 32;
    long x_len = jwk_bytes(j, JWK_X, x, sizeof x, err, size);
    if (x_len < 0)
        return NULL;
    if ((size_t)x_len != want)
        return fail(err, size, "x of an %s key is %zu bytes", ed448 ? "Ed448" : "Ed25519", want),
               NULL;
    EVP_PKEY *pkey =
        EVP_PKEY_new_raw_public_key_ex(NULL, ed448 ? "ED448" : "ED25519", NULL, x, want);
    if (!pkey)
        fail_openssl(err, size, "not an EdDSA public key");
    return pkey;
}

/* A JWK's members are read raw (no metamethods) and stay on the stack while in use. */
static int l_crypto_jwk_key(lua_State *L)
{
    jwk_t j;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    for (int f = 0; f < JWK_FIELDS; f++) {
        lua_pushstring(L, jwk_names[f]);
        lua_rawget(L, 1);
        j.v[f] = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &j.len[f]) : NULL;
    }
    key_box_t *box = lua_newuserdata(L, sizeof *box);
    box->pkey = NULL;
    luaL_getmetatable(L, KEY_MT);
    lua_setmetatable(L, -2);

    char err[256];
    if (is(&j, JWK_KTY, "RSA"))
        box->pkey = jwk_rsa(&j, err, sizeof err);
    else if (is(&j, JWK_KTY, "EC"))
        box->pkey = jwk_ec(&j, err, sizeof err);
    else if (is(&j, JWK_KTY, "OKP"))
        box->pkey = jwk_okp(&j, err, sizeof err);
    else
        fail(err, sizeof err, "kty is RSA, EC or OKP (an HMAC secret is a string, not a JWK)");
    ERR_clear_error(); /* what a provider queued on its way to success */
    if (!box->pkey) {
        lua_pushnil(L);
        lua_pushfstring(L, "jwk_key: %s", err);
        return 2;
    }
    return 1;
}

/* The SPKI PEM of a public key (a key handle, a public key in another PEM form, a
 * certificate's): text to keep where a key handle cannot go, and the cache recognises. */
static int l_crypto_public_pem(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING && !key_box(L, 1))
        return luaL_argerror(L, 1, "a PEM public key or a key of crypto.jwk_key expected");
    char *out = lua_newuserdata(L, PUBLIC_PEM_MAX), err[256];
    long len = -1;
    EVP_PKEY *pkey = key_get(L, 1, 0, err, sizeof err);
    BIO *bio = pkey ? BIO_new(BIO_s_mem()) : NULL;
    if (pkey) {
        char *data;
        long n;
        if (!bio || !PEM_write_bio_PUBKEY(bio, pkey))
            fail_openssl(err, sizeof err, "cannot write the key");
        else if ((n = BIO_get_mem_data(bio, &data)) <= 0 || n > PUBLIC_PEM_MAX)
            fail(err, sizeof err, "the key's PEM is too long");
        else
            memcpy(out, data, (size_t)(len = n));
    }
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    if (len < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "public_pem: %s", err);
        return 2;
    }
    lua_pushlstring(L, out, (size_t)len);
    return 1;
}

void mf_crypto_keys_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"verify", l_crypto_verify},
        {"sign", l_crypto_sign},
        {"jwk_key", l_crypto_jwk_key},
        {"public_pem", l_crypto_public_pem},
        {NULL, NULL},
    };
    luaL_newmetatable(L, KEY_MT);
    lua_pushcfunction(L, key_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, key_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "mayfly.crypto key");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    luaL_register(L, NULL, fns);
}

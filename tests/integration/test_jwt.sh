# mayfly.jwt over HTTP, with keys and tokens made by the openssl CLI (fixtures/jwt/jose.py) and a
# JWKS server run here (fixtures/jwt/jwks_server.py, whose request log counts the fetches):
# HS256/384/512, RS256/512, PS256, ES256 and EdDSA tokens with a key and from a JWKS; expiry,
# nbf, iat, audience, issuer and required claims; bad signatures, alg "none", algorithm
# confusion (an HS256 token keyed with the RSA public key's PEM), malformed tokens, misuse;
# jwt.sign's tokens checked by openssl; the JWKS cache shared by two workers, a kid rotated on
# the server (picked up, at most one refetch per 5 s), Cache-Control, concurrent misses
# coalesced, the server down with a document cached, and a fetch under mayfly test.
source "$(dirname "$0")/lib.sh"

JOSE="$TESTS_DIR/fixtures/jwt/jose.py"
K=$WORK/keys CFG=$WORK/config DOCS=$WORK/jwks
mkdir -p "$K" "$CFG" "$DOCS"

# ---- keys (openssl) and the config folder the scripts read them from ----
genkey() { # NAME openssl-genpkey-args...: K/NAME.pem (private) and K/NAME.pub
  local name=$1; shift
  openssl genpkey "$@" -out "$K/$name.pem" 2>/dev/null && openssl pkey -in "$K/$name.pem" -pubout -out "$K/$name.pub"
}
genkey rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048 &&
  genkey rsa2 -algorithm RSA -pkeyopt rsa_keygen_bits:2048 &&
  genkey ec -algorithm EC -pkeyopt ec_paramgen_curve:P-256 &&
  genkey ed -algorithm ED25519 || { echo "openssl could not make the keys"; exit 1; }
printf '%s' "$(openssl rand -hex 32)" >"$K/hs.key"       # 64 bytes: enough for HS512
printf '%s' "$(openssl rand -hex 32)" >"$K/hs_other.key"
cp "$K/hs.key" "$CFG/hs_secret"
for k in rsa ec ed; do cp "$K/$k.pub" "$CFG/${k}_pub"; cp "$K/$k.pem" "$CFG/${k}_priv"; done
cp "$K/rsa.pub" "$K/rsa_pub_as_secret" # the public PEM, used below as an HMAC secret

# tok ALG KEY PAYLOAD [HEADER-FIELDS]: a token signed by openssl ("kid":"x" style extra fields)
tok() {
  local header="{\"alg\":\"$1\",\"typ\":\"JWT\"${4:+,$4}}"
  python3 "$JOSE" sign "$1" "$2" "$header" "$3"
}
NOW=$(date +%s)
claims() { echo "{\"sub\":\"ada\",\"iat\":$NOW,\"exp\":$((NOW + 600))${1:+,$1}}"; }

# ---- the JWKS server and its documents ----
jwk() { python3 "$JOSE" jwk "$@"; }
doc() { # NAME JWK...: DOCS/NAME, written whole (the server may be reading it)
  local name=$1 keys; shift
  keys=$(IFS=,; echo "$*")
  echo "{\"keys\":[$keys]}" >"$DOCS/$name.tmp" && mv "$DOCS/$name.tmp" "$DOCS/$name"
}
RSA_JWK=$(jwk "$K/rsa.pub" k-rsa) EC_JWK=$(jwk "$K/ec.pub" k-ec) ED_JWK=$(jwk "$K/ed.pub" k-ed)
doc main.json "$RSA_JWK" "$EC_JWK" "$ED_JWK"
doc rot.json "$(jwk "$K/rsa.pub" k1)"
doc short.json "$EC_JWK"
echo "max-age=1" >"$DOCS/short.json.cc"
doc slow.json "$RSA_JWK"
echo 800 >"$DOCS/slow.json.delay"
doc strict.json "$(jwk "$K/rsa.pub" strict RS512)" "$(jwk "$K/ec.pub" enc "" enc)" \
  '{"kty":"RSA","kid":"broken","n":"AQAB","e":"AQAB"}'
doc oct.json '{"kty":"oct","kid":"hs","k":"c2VjcmV0"}' "$RSA_JWK"
echo 500 >"$DOCS/fails.json.status"
echo '{}' >"$DOCS/fails.json"

python3 "$TESTS_DIR/fixtures/jwt/jwks_server.py" "$WORK/jwks.port" "$DOCS" 2>"$WORK/jwks.log" &
JWKS_PID=$!
UP_PIDS+=($JWKS_PID)
for _ in $(seq 1 100); do [ -s "$WORK/jwks.port" ] && break; sleep 0.05; done
[ -s "$WORK/jwks.port" ] || { echo "the JWKS server did not start"; cat "$WORK/jwks.log"; exit 1; }
echo "http://127.0.0.1:$(cat "$WORK/jwks.port")" >"$CFG/jwks_base"
fetches() { grep -c "^/$1\$" "$DOCS/requests.log" 2>/dev/null || true; }

mf_start "$TESTS_DIR/fixtures/jwt/scripts" MAYFLY_WORKERS=2 MAYFLY_CONFIG="$CFG" || exit 1

# v NAME PATH TOKEN STATUS [BODY-SUBSTRING]: the token as a bearer
v() { expect "$1" GET "$2" "$4" "${5:-}" -- -H "Authorization: Bearer $3"; }

# ---- the JWKS documents first: the rotation's clock starts at the first fetch ----
ROT1=$(tok RS256 "$K/rsa.pem" "$(claims)" '"kid":"k1"')
ROT2=$(tok RS256 "$K/rsa2.pem" "$(claims)" '"kid":"k2"')
v "jwks: RS256 with the kid of the document" "/jwks/rot.json?algs=RS256" "$ROT1" 200 '"sub":"ada"'
T_FETCH=$(date +%s.%N)
doc rot.json "$(jwk "$K/rsa.pub" k1)" "$(jwk "$K/rsa2.pub" k2)" # the server rotates in k2
v "jwks: the short-lived document" "/jwks/short.json?algs=ES256" \
  "$(tok ES256 "$K/ec.pem" "$(claims)" '"kid":"k-ec"')" 200 '"sub":"ada"'
v "jwks: a kid the cached document lacks, within 5 s of its fetch: not fetched again" \
  "/jwks/rot.json?algs=RS256" "$ROT2" 401 '"err":"unknown key"'
for i in $(seq 1 10); do
  http GET "/jwks/rot.json?algs=RS256" -H "Authorization: Bearer $(tok RS256 "$K/rsa2.pem" "$(claims)" "\"kid\":\"bogus$i\"")"
done
check "jwks: unknown kids do not refetch within 5 s (1 fetch, got $(fetches rot.json))" \
  [ "$(fetches rot.json)" = 1 ]
elapsed=$(awk -v now="$(date +%s.%N)" -v t="$T_FETCH" 'BEGIN { printf "%.3f", now - t }')
awk -v e="$elapsed" 'BEGIN { exit !(e < 4.5) }' ||
  echo "# note: the checks above took ${elapsed}s; the 5 s window may have been reached"

# ---- HMAC with a secret ----
HS=$(tok HS256 "$K/hs.key" "$(claims)")
v "HS256: valid" "/key/hs_secret" "$HS" 200 '"sub":"ada"'
v "HS384: valid" "/key/hs_secret?algs=HS384" "$(tok HS384 "$K/hs.key" "$(claims)")" 200 '"ok":true'
v "HS512: valid" "/key/hs_secret?algs=HS512" "$(tok HS512 "$K/hs.key" "$(claims)")" 200 '"ok":true'
v "HS256: another secret is a bad signature" "/key/hs_secret" \
  "$(tok HS256 "$K/hs_other.key" "$(claims)")" 401 '"err":"bad signature"'
v "HS256 token, only HS512 allowed" "/key/hs_secret?algs=HS512" "$HS" 401 '"err":"algorithm not allowed"'

# ---- public keys as PEM ----
v "RS256: valid" "/key/rsa_pub?algs=RS256" "$(tok RS256 "$K/rsa.pem" "$(claims)")" 200 '"sub":"ada"'
v "RS512: valid" "/key/rsa_pub?algs=RS512" "$(tok RS512 "$K/rsa.pem" "$(claims)")" 200 '"ok":true'
v "PS256: valid" "/key/rsa_pub?algs=PS256" "$(tok PS256 "$K/rsa.pem" "$(claims)")" 200 '"ok":true'
v "ES256: valid" "/key/ec_pub?algs=ES256" "$(tok ES256 "$K/ec.pem" "$(claims)")" 200 '"sub":"ada"'
v "EdDSA: valid" "/key/ed_pub?algs=EdDSA" "$(tok EdDSA "$K/ed.pem" "$(claims)")" 200 '"sub":"ada"'
v "RS256 signed by another key: bad signature" "/key/rsa_pub?algs=RS256" \
  "$(tok RS256 "$K/rsa2.pem" "$(claims)")" 401 '"err":"bad signature"'
v "ES256 token against an RSA key: refused" "/key/rsa_pub?algs=RS256,ES256" \
  "$(tok ES256 "$K/ec.pem" "$(claims)")" 401 '"err":"algorithm not allowed"'
RS=$(tok RS256 "$K/rsa.pem" "$(claims)")
IFS=. read -r h p s <<<"$RS"
flip() { local c=${1:0:1}; [ "$c" = A ] && echo "B${1:1}" || echo "A${1:1}"; }
v "RS256: a changed signature" "/key/rsa_pub?algs=RS256" "$h.$p.$(flip "$s")" 401 '"err":"bad signature"'
other=$(tok RS256 "$K/rsa.pem" "$(claims '"admin":true')")
v "RS256: another payload under the signature" "/key/rsa_pub?algs=RS256" \
  "$h.$(cut -d. -f2 <<<"$other").$s" 401 '"err":"bad signature"'
v "RS256: a truncated signature" "/key/rsa_pub?algs=RS256" "$h.$p.${s:0:20}" 401 '"err":"bad signature"'
ES=$(tok ES256 "$K/ec.pem" "$(claims)")
v "ES256: a changed signature" "/key/ec_pub?algs=ES256" "${ES%.*}.$(flip "${ES##*.}")" 401 '"err":"bad signature"'
ED=$(tok EdDSA "$K/ed.pem" "$(claims)")
v "EdDSA: a changed signature" "/key/ed_pub?algs=EdDSA" "${ED%.*}.$(flip "${ED##*.}")" 401 '"err":"bad signature"'

# ---- "none" and algorithm confusion ----
b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
NONE="$(printf '{"alg":"none","typ":"JWT"}' | b64u).$(claims | b64u)."
v "alg none: refused" "/key/hs_secret?algs=HS256" "$NONE" 401 '"err":"algorithm not allowed"'
v "alg none: refused even when listed" "/key/hs_secret?algs=none,HS256" "$NONE" 401 '"err":"algorithm not allowed"'
v "alg none with a signature: refused" "/key/hs_secret?algs=none" "${NONE}AAAA" 401 '"err":"algorithm not allowed"'
CONF=$(tok HS256 "$K/rsa_pub_as_secret" "$(claims)")
v "HS256 keyed with the RSA public PEM, RS256 expected: refused" "/key/rsa_pub?algs=RS256" \
  "$CONF" 401 '"err":"algorithm not allowed"'
v "HS256 keyed with the RSA public PEM, HS256 listed too: refused" "/key/rsa_pub?algs=RS256,HS256" \
  "$CONF" 401 '"err":"algorithm not allowed"'
v "HS256 with a JWKS: refused" "/jwks/main.json?algs=RS256,HS256" \
  "$(tok HS256 "$K/rsa_pub_as_secret" "$(claims)" '"kid":"k-rsa"')" 401 '"err":"algorithm not allowed"'
v "RS256 with an HMAC secret: refused" "/key/hs_secret?algs=HS256,RS256" \
  "$(tok RS256 "$K/rsa.pem" "$(claims)")" 401 '"err":"algorithm not allowed"'

# ---- time claims ----
v "expired" "/key/hs_secret" "$(tok HS256 "$K/hs.key" "{\"exp\":$((NOW - 10))}")" 401 '"err":"expired"'
v "expired, within the leeway" "/key/hs_secret?leeway=60" \
  "$(tok HS256 "$K/hs.key" "{\"exp\":$((NOW - 10))}")" 200 '"ok":true'
v "exp a second ago: expired" "/key/hs_secret" \
  "$(tok HS256 "$K/hs.key" "{\"exp\":$((NOW - 1))}")" 401 '"err":"expired"'
v "nbf in the future" "/key/hs_secret" "$(tok HS256 "$K/hs.key" "{\"nbf\":$((NOW + 60))}")" 401 '"err":"not yet valid"'
v "nbf in the future, within the leeway" "/key/hs_secret?leeway=120" \
  "$(tok HS256 "$K/hs.key" "{\"nbf\":$((NOW + 60))}")" 200 '"ok":true'
v "nbf passed" "/key/hs_secret" "$(tok HS256 "$K/hs.key" "{\"nbf\":$((NOW - 5))}")" 200 '"ok":true'
v "iat in the future" "/key/hs_secret" "$(tok HS256 "$K/hs.key" "{\"iat\":$((NOW + 60))}")" 401 '"detail":"issued in the future"'
v "exp not a number" "/key/hs_secret" "$(tok HS256 "$K/hs.key" '{"exp":"tomorrow"}')" 401 '"err":"malformed"'
v "exp not finite" "/key/hs_secret" "$(tok HS256 "$K/hs.key" '{"exp":1e999}')" 401 '"err":"malformed"'

# ---- audience, issuer, required claims ----
AUD=$(tok HS256 "$K/hs.key" "$(claims '"aud":"api","iss":"https://id.test"')")
v "audience: the one expected" "/key/hs_secret?aud=api" "$AUD" 200 '"aud":"api"'
v "audience: another" "/key/hs_secret?aud=billing" "$AUD" 401 '"err":"audience"'
v "audience: one of a list expected" "/key/hs_secret?aud=billing,api" "$AUD" 200 '"ok":true'
v "audience: the token's array holds it" "/key/hs_secret?aud=api" \
  "$(tok HS256 "$K/hs.key" "$(claims '"aud":["web","api"]')")" 200 '"ok":true'
v "audience: the token's array lacks it" "/key/hs_secret?aud=billing" \
  "$(tok HS256 "$K/hs.key" "$(claims '"aud":["web","api"]')")" 401 '"err":"audience"'
v "audience expected, the token names none" "/key/hs_secret?aud=api" "$HS" 401 '"err":"audience"'
v "the token names an audience, none expected: refused" "/key/hs_secret" "$AUD" 401 '"err":"audience"'
v "issuer: the one expected" "/key/hs_secret?aud=api&iss=https://id.test" "$AUD" 200 '"ok":true'
v "issuer: another" "/key/hs_secret?aud=api&iss=https://evil.test" "$AUD" 401 '"err":"issuer"'
v "issuer expected, the token names none" "/key/hs_secret?iss=https://id.test" "$HS" 401 '"err":"issuer"'
v "required claim present" "/key/hs_secret?required=exp,sub" "$HS" 200 '"ok":true'
v "required claim missing" "/key/hs_secret?required=exp,jti" "$HS" 401 '"detail":"jti"'

v "options from a mayfly.constant (read-only lists)" "/constant" "$AUD" 200 '"aud":"api"'
v "options from a mayfly.constant: the audience list still checked" "/constant" \
  "$(tok HS256 "$K/hs.key" "$(claims '"aud":"billing"')")" 401 '"err":"audience"'

# ---- malformed tokens ----
v "not a token" "/key/hs_secret" "hello" 401 '"err":"malformed"'
v "two segments" "/key/hs_secret" "${HS%.*}" 401 '"err":"malformed"'
v "four segments" "/key/hs_secret" "$HS.x" 401 '"err":"malformed"'
v "a header that is not JSON" "/key/hs_secret" "$(printf 'nope' | b64u).${HS#*.}" 401 '"err":"malformed"'
v "a header that is a JSON array" "/key/hs_secret" "$(printf '["HS256"]' | b64u).${HS#*.}" 401 '"err":"malformed"'
v "padding in a segment" "/key/hs_secret" "${HS%%.*}=.${HS#*.}" 401 '"err":"malformed"'
v "a signed payload that is not an object" "/key/hs_secret" "$(tok HS256 "$K/hs.key" '[1,2]')" 401 '"detail":"payload"'
v "a critical header extension" "/key/hs_secret" \
  "$(tok HS256 "$K/hs.key" "$(claims)" '"crit":["exp"],"exp":1')" 401 '"detail":"crit"'
pad=$(head -c 12000 /dev/zero | tr '\0' a)
expect "a token of 12 kB verifies" POST "/key/hs_secret" 200 '"ok":true' -- \
  --data-binary "$(tok HS256 "$K/hs.key" "$(claims "\"pad\":\"$pad\"")")"
expect "a token over 16 KiB, well signed: refused unread" POST "/key/hs_secret" 401 '"err":"malformed"' -- \
  --data-binary "$(tok HS256 "$K/hs.key" "$(claims "\"pad\":\"$pad$pad\"")")"
expect "no token" GET "/key/hs_secret" 401 '"err":"malformed"'

# ---- misuse raises, naming jwt.verify / jwt.sign ----
expect "misuse: no algorithms" GET /misuse/no-algorithms 400 'jwt.verify: opts.algorithms is required'
expect "misuse: an empty list of algorithms" GET /misuse/empty-algorithms 400 'opts.algorithms is required'
expect "misuse: neither key nor jwks_url" GET /misuse/no-key 400 'give opts.key or opts.jwks_url'
expect "misuse: both key and jwks_url" GET /misuse/both 400 'give opts.key or opts.jwks_url'
expect "misuse: an unknown algorithm" GET /misuse/unknown-alg 400 "unknown algorithm 'RS265'"
expect "misuse: a secret shorter than HS512's hash" GET /misuse/short-secret 400 'HS512 needs a secret of 64 bytes'
expect "misuse: a jwks_url that is not http(s)" GET /misuse/bad-url 400 'opts.jwks_url must be an http'
expect "misuse: jwt.sign with a short secret" GET /misuse/sign-short-secret 400 'jwt.sign: HS256 needs a secret'
expect "misuse: jwt.sign with none" GET /misuse/sign-none 400 "jwt.sign: unknown algorithm 'none'"

# ---- jwt.sign, checked by openssl and by jwt.verify ----
for pair in "HS256 hs_secret hs.key" "HS512 hs_secret hs.key" "RS256 rsa_priv rsa.pub" \
  "PS256 rsa_priv rsa.pub" "ES256 ec_priv ec.pub" "EdDSA ed_priv ed.pub"; do
  read -r alg cfg key <<<"$pair"
  http POST "/sign/$cfg" -H 'Content-Type: application/json' \
    -d "{\"alg\":\"$alg\",\"claims\":$(claims),\"header\":{\"kid\":\"mine\",\"alg\":\"none\"}}"
  token=$BODY
  check "jwt.sign $alg: openssl verifies it" python3 "$JOSE" verify "$alg" "$K/$key" "$token"
  hdr=$(python3 -c 'import base64, sys; s = sys.argv[1].split(".")[0]
print(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode())' "$token")
  check "jwt.sign $alg: header has alg (not the extra's), typ and kid" \
    bash -c 'grep -q "\"alg\":\"$2\"" <<<"$1" && grep -q "\"typ\":\"JWT\"" <<<"$1" && grep -q "\"kid\":\"mine\"" <<<"$1"' _ "$hdr" "$alg"
  case $cfg in hs_secret) pub=hs_secret ;; *) pub=${cfg%_priv}_pub ;; esac
  v "jwt.sign $alg: jwt.verify accepts it" "/key/$pub?algs=$alg" "$token" 200 '"sub":"ada"'
done

# ---- JWKS: keys by kid, fetched once for both workers ----
v "jwks: RS256" "/jwks/main.json?algs=RS256,ES256,EdDSA" "$(tok RS256 "$K/rsa.pem" "$(claims)" '"kid":"k-rsa"')" 200 '"sub":"ada"'
v "jwks: ES256" "/jwks/main.json?algs=RS256,ES256,EdDSA" "$(tok ES256 "$K/ec.pem" "$(claims)" '"kid":"k-ec"')" 200 '"sub":"ada"'
v "jwks: EdDSA" "/jwks/main.json?algs=RS256,ES256,EdDSA" "$(tok EdDSA "$K/ed.pem" "$(claims)" '"kid":"k-ed"')" 200 '"sub":"ada"'
v "jwks: no kid: the keys that fit are tried" "/jwks/main.json?algs=ES256" "$(tok ES256 "$K/ec.pem" "$(claims)")" 200 '"ok":true'
v "jwks: the right kid, a wrong signature" "/jwks/main.json?algs=RS256" \
  "$(tok RS256 "$K/rsa2.pem" "$(claims)" '"kid":"k-rsa"')" 401 '"err":"bad signature"'
MAIN_RS=$(tok RS256 "$K/rsa.pem" "$(claims)" '"kid":"k-rsa"')
for _ in $(seq 1 20); do http GET "/jwks/main.json?algs=RS256" -H "Authorization: Bearer $MAIN_RS"; done
check "jwks: 24 verifications on two workers, one fetch (got $(fetches main.json))" [ "$(fetches main.json)" = 1 ]
v "jwks: a JWK's alg is respected (RS512 key, RS256 token)" "/jwks/strict.json?algs=RS256" \
  "$(tok RS256 "$K/rsa.pem" "$(claims)" '"kid":"strict"')" 401 '"err":"unknown key"'
v "jwks: the JWK's own alg" "/jwks/strict.json?algs=RS512" \
  "$(tok RS512 "$K/rsa.pem" "$(claims)" '"kid":"strict"')" 200 '"ok":true'
v "jwks: a kid of another key type" "/jwks/strict.json?algs=ES256" \
  "$(tok ES256 "$K/ec.pem" "$(claims)" '"kid":"strict"')" 401 '"err":"unknown key"'
v "jwks: a JWK with use enc is not for signatures" "/jwks/strict.json?algs=ES256" \
  "$(tok ES256 "$K/ec.pem" "$(claims)" '"kid":"enc"')" 401 '"err":"unknown key"'
v "jwks: a JWK that is no key" "/jwks/strict.json?algs=RS256" \
  "$(tok RS256 "$K/rsa.pem" "$(claims)" '"kid":"broken"')" 401 '"err":"unknown key"'
v "jwks: a symmetric JWK never serves" "/jwks/oct.json?algs=RS256" \
  "$(tok RS256 "$K/rsa.pem" "$(claims)" '"kid":"hs"')" 401 '"err":"unknown key"'
v "jwks: a server answering 500" "/jwks/fails.json?algs=RS256" "$MAIN_RS" 401 '"err":"jwks unavailable"'
v "jwks: a document that is not there" "/jwks/absent.json?algs=RS256" "$MAIN_RS" 401 '"err":"jwks unavailable"'
check "jwks: the failed fetch is logged" log_has '"msg":"jwt: JWKS fetch failed".*fails.json'

# ---- concurrent misses on a slow document: one fetch ----
SLOW=$(tok RS256 "$K/rsa.pem" "$(claims)" '"kid":"k-rsa"')
seq 1 12 | xargs -P 12 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 \
  -H "Authorization: Bearer $SLOW" "$(url "/jwks/slow.json?algs=RS256")" >"$WORK/slow.codes"
check "jwks: 12 concurrent first requests all verify ($(sort "$WORK/slow.codes" | uniq -c | tr '\n' ' '))" \
  [ "$(grep -c '^200$' "$WORK/slow.codes")" = 12 ]
check "jwks: ... after one fetch (got $(fetches slow.json))" [ "$(fetches slow.json)" = 1 ]

# ---- the rotation: 5 s after the first fetch, the new kid fetches the document again ----
# wait_until T: sleeps until the clock (date +%s.%N) passes T, in seconds since the epoch.
wait_until() { while awk -v now="$(date +%s.%N)" -v t="$1" 'BEGIN { exit !(now < t) }'; do sleep 0.1; done; }
wait_until "$(awk -v t="$T_FETCH" 'BEGIN { printf "%.3f", t + 5.3 }')"
v "jwks: the rotated-in kid, 5 s later" "/jwks/rot.json?algs=RS256" "$ROT2" 200 '"sub":"ada"'
check "jwks: ... picked up by a second fetch (got $(fetches rot.json))" [ "$(fetches rot.json)" = 2 ]
for i in $(seq 1 5); do
  http GET "/jwks/rot.json?algs=RS256" -H "Authorization: Bearer $ROT1"
  http GET "/jwks/rot.json?algs=RS256" -H "Authorization: Bearer $ROT2"
  http GET "/jwks/rot.json?algs=RS256" -H "Authorization: Bearer $(tok RS256 "$K/rsa2.pem" "$(claims)" "\"kid\":\"new$i\"")"
done
check "jwks: old and new kids verify, unknown ones fetch no more (got $(fetches rot.json))" \
  [ "$(fetches rot.json)" = 2 ]
v "jwks: the old kid still verifies" "/jwks/rot.json?algs=RS256" "$ROT1" 200 '"ok":true'

# ---- Cache-Control: max-age=1 is kept 5 s (the floor), then fetched again ----
v "jwks: the short-lived document, past its max-age" "/jwks/short.json?algs=ES256" \
  "$(tok ES256 "$K/ec.pem" "$(claims)" '"kid":"k-ec"')" 200 '"ok":true'
check "jwks: ... fetched again (got $(fetches short.json))" [ "$(fetches short.json)" = 2 ]
check "jwks: the default max-age (300 s) kept main.json (got $(fetches main.json))" [ "$(fetches main.json)" = 1 ]

# ---- mayfly test: a handler's fetch where calls block ----
cp "$DOCS/main.json" "$DOCS/spec.json"
out=$(cd "$TESTS_DIR/fixtures/jwt" && JWT_DOC=spec.json JWT_TOKEN=$MAIN_RS MAYFLY_CONFIG="$CFG" \
  "$MAYFLY_BIN" test -o TAP spec 2>&1); rc=$?
if [ "$rc" = 0 ]; then pass "mayfly test: a JWKS fetched and used where calls block"
else fail "mayfly test: a JWKS fetched and used where calls block" "exit $rc" "$(tail -5 <<<"$out")"; fi
check "mayfly test: ... with one fetch for two requests (got $(fetches spec.json))" [ "$(fetches spec.json)" = 1 ]

# ---- the JWKS server down: the cached documents go on serving ----
kill -TERM "$JWKS_PID"; wait "$JWKS_PID" 2>/dev/null
T_DOWN=$(date +%s.%N)
v "server down: a cached document" "/jwks/main.json?algs=RS256" "$MAIN_RS" 200 '"ok":true'
v "server down: a never fetched document" "/jwks/never.json?algs=RS256" "$MAIN_RS" 401 '"err":"jwks unavailable"'
wait_until "$(awk -v t="$T_DOWN" 'BEGIN { printf "%.3f", t + 5.3 }')"
v "server down: the short-lived document, due again, still serves" "/jwks/short.json?algs=ES256" \
  "$(tok ES256 "$K/ec.pem" "$(claims)" '"kid":"k-ec"')" 200 '"ok":true'
check "server down: the refresh that failed is logged" log_has '"msg":"jwt: JWKS fetch failed".*short.json'

# ---- what a verification costs in a handler (printed, never asserted) ----
cost() {
  http GET "/cost/$1?n=$2&${3}" -H "Authorization: Bearer $4"
  echo "# cost: $5: $(grep -o '"us":[0-9.]*' <<<"$BODY" | cut -d: -f2) us per jwt.verify (CPU, in a handler)"
}
cost hs_secret 20000 "algs=HS256" "$HS" "HS256, secret"
cost rsa_pub 5000 "algs=RS256" "$RS" "RS256, PEM key"
cost jwks 5000 "algs=RS256&doc=main.json" "$MAIN_RS" "RS256, JWKS"
cost ec_pub 2000 "algs=ES256" "$ES" "ES256, PEM key"
cost ed_pub 2000 "algs=EdDSA" "$ED" "EdDSA, PEM key"

check "every wait for a JWKS fetch was woken once (no wake-up dropped)" \
  bash -c '! grep -q "a wake-up for a wait that is over" "$1"' _ "$MF_LOG"
check "no handler error" bash -c '! grep -q "\"level\":\"error\"" "$1"' _ "$MF_LOG"
mf_stop
mf_finish

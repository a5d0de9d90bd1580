#!/usr/bin/env bash
# The web toolkit against what curl sends: req.cookies (-b, several Cookie headers), req:form()
# (--data-urlencode), req:multipart() (-F with a binary file holding NUL bytes, CRLFs and a
# line like the boundary), malformed bodies answered 400, Set-Cookie values from
# mayfly.cookie.serialize read back through curl's cookie jar; then the fixture's specs
# (mayfly.time, mayfly.url, the session) under mayfly test.
source "$(dirname "$0")/lib.sh"

FIX="$TESTS_DIR/fixtures/web_toolkit"
mf_start "$FIX/scripts" MAYFLY_WORKERS=1 || exit 1

# json_get EXPR: evaluates a Python expression on the last body, bound to j.
json_get() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$BODY" "$1"; }

# ---- cookies ----
expect "-b 'a=1; b=2'" GET /cookies 200 '"cookies":{' -- -b 'a=1; b=2'
check "req.cookies has both" [ "$(json_get 'sorted(j["cookies"].items())')" = "[('a', '1'), ('b', '2')]" ]
expect "several Cookie headers, duplicates, quotes, malformed pairs" GET /cookies 200 '' -- \
  -H 'Cookie: a=1; b="two"; bad name=x; q=x"y; noeq' -H 'Cookie: a=3; c=%41'
check "the first of a name wins, quotes dropped, malformed pairs skipped, no decoding" \
  [ "$(json_get 'sorted(j["cookies"].items())')" = "[('a', '1'), ('b', 'two'), ('c', '%41')]" ]
check "cookie.parse agrees with req.cookies" [ "$(json_get 'j["cookies"] == j["parsed"]')" = True ]
check "req.headers.cookie joins the headers with '; '" \
  [ "$(json_get 'j["header"]')" = 'a=1; b="two"; bad name=x; q=x"y; noeq; a=3; c=%41' ]
expect "no Cookie header: an empty table" GET /cookies 200 '"cookies":{}'

# ---- forms ----
expect "--data-urlencode" POST /form 200 '' -- --data-urlencode 'msg=a b&c=d+é' \
  --data-urlencode 'msg=2' -d 'flag&=dropped'
check "decoded, a repeated key an array, a key alone true" \
  [ "$(json_get 'j["form"] == {"msg": ["a b&c=d+é", "2"], "flag": True}')" = True ]
check "url.parse_query reads the body the same" [ "$(json_get 'j["form"] == j["parsed"]')" = True ]
expect "form: another media type is a 400" POST /form 400 'x-www-form-urlencoded' -- \
  -H 'Content-Type: application/json' -d '{"a":1}'

# ---- multipart ----
python3 - "$WORK/upload.bin" <<'PY'
import sys
# every byte value, CRLFs, a blank line, and lines that start like curl's boundaries
data = bytes(range(256)) + b"\r\n\r\n--------------------------\r\n--\r\n\0\0end\r\n"
open(sys.argv[1], "wb").write(data * 40)
PY
sum=$(sha1sum "$WORK/upload.bin" | cut -d' ' -f1)
size=$(stat -c %s "$WORK/upload.bin")
expect "curl -F a=1 -F f=@file;type=text/plain" POST /multipart 200 '"n":3' -- \
  -F 'a=1' -F "f=@$WORK/upload.bin;type=text/plain" -F 'a=second'
check "part 1: a field" [ "$(json_get '(j["parts"][0]["name"], j["parts"][0]["text"], "filename" in j["parts"][0])')" = "('a', '1', False)" ]
check "part 2: the file, its bytes exact" \
  [ "$(json_get '(j["parts"][1]["name"], j["parts"][1]["filename"], j["parts"][1]["content_type"], j["parts"][1]["size"], j["parts"][1]["sha1"])')" = "('f', 'upload.bin', 'text/plain', $size, '$sum')" ]
check "part 2: headers by lower-case name" \
  [ "$(json_get 'j["parts"][1]["headers"]["content-disposition"]')" = 'form-data; name="f"; filename="upload.bin"' ]
check "part 3: order kept" [ "$(json_get 'j["parts"][2]["text"]')" = second ]
curl -s -F 'a=1' -F "f=@$WORK/upload.bin;type=text/plain" -o "$WORK/back.bin" "$(url '/multipart/raw?name=f')"
check "the file's body comes back byte for byte" cmp -s "$WORK/upload.bin" "$WORK/back.bin"

mp() { printf -- "$2" >"$WORK/mp.body"; http POST /multipart -H "Content-Type: $1" --data-binary "@$WORK/mp.body"; }
mp 'multipart/form-data; boundary=XX' '--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
check "multipart without the final boundary: 400" [ "$STATUS" = 400 ]
check "  says so" grep -q 'no closing boundary' <<<"$BODY"
mp 'multipart/form-data' '--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XX--\r\n'
check "multipart without a boundary parameter: 400" [ "$STATUS" = 400 ]
check "  says so" grep -q 'boundary' <<<"$BODY"
mp 'multipart/form-data; boundary=XX' '--XX\r\nContent-Disposition form-data; name="a"\r\n\r\n1\r\n--XX--\r\n'
check "a part's header without a colon: 400" [ "$STATUS" = 400 ]
check "  says so" grep -q 'no colon' <<<"$BODY"
mp 'multipart/form-data; boundary=XX' '--XX\r\n\r\n1\r\n--XX--\r\n'
check "a part without Content-Disposition: 400" [ "$STATUS" = 400 ]
mp 'text/plain' 'a=1'
check "multipart: another media type is a 400" [ "$STATUS" = 400 ]
check "  the request id in the answer" grep -q '"request_id"' <<<"$BODY"
python3 -c '
import sys
sys.stdout.write("".join("--XX\r\nContent-Disposition: form-data; name=p\r\n\r\n%d\r\n" % i for i in range(1001)) + "--XX--\r\n")' >"$WORK/mp.body"
http POST /multipart -H 'Content-Type: multipart/form-data; boundary=XX' --data-binary "@$WORK/mp.body"
check "more than 1000 parts: 400" [ "$STATUS" = 400 ]
check "  says so" grep -q 'more than 1000 parts' <<<"$BODY"
check "the server lives on" answers_200 /cookies 5

# ---- Set-Cookie read back through curl's cookie jar ----
http GET /set-cookie -c "$WORK/jar"
check "Set-Cookie with every attribute as written" \
  grep -qx 'set-cookie: session=abc123; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax' <(tr -d '\r' <"$HEADERS")
check "Expires as an IMF-fixdate" \
  grep -qx 'set-cookie: until=2037; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT' <(tr -d '\r' <"$HEADERS")
jar() { awk -v n="$1" -F'\t' '$6 == n' "$WORK/jar"; }
check "jar: plain, a session cookie (no expiry)" [ "$(jar plain | cut -f5,7)" = $'0\tv1' ]
check "jar: HttpOnly, with Max-Age's expiry" bash -c '[[ "$1" == "#HttpOnly_127.0.0.1"* ]] && [ "$(cut -f5 <<<"$1")" -gt "$(date +%s)" ]' _ "$(jar session)"
check "jar: Expires read as 2037-10-21 07:28:00" [ "$(jar until | cut -f5)" = 2139722880 ]
check "jar: the path kept" [ "$(jar scoped | cut -f3)" = /set-cookie ]
check "jar: Max-Age=0 stores nothing" [ -z "$(jar gone)" ]
check "jar: an escaped value" [ "$(jar encoded | cut -f7)" = 'a%20b%3Bc%00' ]
http GET /cookies -b "$WORK/jar"
check "the jar's cookies come back in req.cookies (not the one scoped elsewhere)" \
  [ "$(json_get 'sorted(j["cookies"].items())')" = "[('encoded', 'a%20b%3Bc%00'), ('plain', 'v1'), ('session', 'abc123'), ('until', '2037')]" ]
mf_stop

# ---- the fixture's specs, in a real state with a throwaway Redis ----
if (cd "$FIX" && env -u MAYFLY_REDIS_URL "$MAYFLY_BIN" test -o TAP >"$WORK/spec.tap" 2>"$WORK/spec.err"); then
  pass "fixture specs: $(grep -c '^ok' "$WORK/spec.tap") passed"
else
  fail "fixture specs" "$(grep -A3 '^not ok' "$WORK/spec.tap" | head -20)" "$(tail -3 "$WORK/spec.err")"
fi
check "fixture specs ran" [ "$(grep -c '^ok' "$WORK/spec.tap")" -ge 20 ]
mf_finish

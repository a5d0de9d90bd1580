#!/usr/bin/env bash
# MAYFLY_LOG_FORMAT: text a person reads (time, level, message, key=value fields, colour) when
# the log goes to a terminal, JSON when it does not, and either one forced by the setting. The
# terminal is a pseudo-terminal made by python's pty module; the server's lines are copied from
# it into a file.
. "$(dirname "$0")/lib.sh"

S="$WORK/scripts"
mkdir -p "$S"
cat >"$S/app.lua" <<'LUA'
return {
  ["GET /hello"] = function(req)
    log.info("greeted", { who = req.query.who or "world", n = 3, tags = { "a", "b" } })
    return "hello"
  end,
  ["GET /boom"] = function() error("kaboom") end,
}
LUA

# on_pty OUT VAR=value...: runs mayfly serve with its stdout and stderr on a new pseudo-terminal,
# copying what it writes there into OUT; sets PTY_PID (the copier, which ends with the server)
# and SERVER_PID.
on_pty() {
  local out=$1; shift
  python3 - "$out" env "$@" "$MAYFLY_BIN" serve <<'PY' &
import os, pty, sys
out = open(sys.argv[1], "wb")
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
open(sys.argv[1] + ".pid", "w").write(str(pid))
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out.write(data); out.flush()
os.waitpid(pid, 0)
PY
  PTY_PID=$!
  SERVER_PID=
  for _ in $(seq 1 100); do
    [ -s "$out.pid" ] && SERVER_PID=$(cat "$out.pid") && return 0
    sleep 0.05
  done
}

# serve_and_drive MODE OUT VAR=value...: serves on a free port (on a pty when MODE is pty,
# into a pipe otherwise), sends /hello, /boom and a request with an escape byte in its query,
# then stops the server (SIGTERM) and waits for its lines.
serve_and_drive() {
  local mode=$1 out=$2 port; shift 2
  port=$(free_port)
  local envs=(MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_SCRIPTS="$S" MAYFLY_DRAIN_DELAY=0 MAYFLY_WORKERS=1 "$@")
  : >"$out"
  if [ "$mode" = pty ]; then
    on_pty "$out" "${envs[@]}"
  else
    rm -f "$out.fifo" && mkfifo "$out.fifo"
    cat "$out.fifo" >"$out" &
    PTY_PID=$!
    env "${envs[@]}" "$MAYFLY_BIN" serve >"$out.fifo" 2>&1 &
    SERVER_PID=$!
  fi
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:$port/livez" && break
    sleep 0.05
  done
  curl -s -o /dev/null "http://127.0.0.1:$port/hello?who=ada%20lovelace"
  curl -s -o /dev/null "http://127.0.0.1:$port/boom"
  curl -s -o /dev/null "http://127.0.0.1:$port/hello?who=%1b%5b31mred%c2%9b"
  sleep 0.2
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$PTY_PID" 2>/dev/null || break; sleep 0.05; done
  wait "$PTY_PID" 2>/dev/null
  sanitizer_check "$out"
  tr -d '\r' <"$out" >"$out.lf" && mv "$out.lf" "$out"
}

all_json() { python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "no lines"
for l in lines: json.loads(l)
' "$1"; }
no_json() { ! grep -q '^{' "$1" && [ -s "$1" ]; }
ESC=$'\033'
# The text with its colour codes removed.
plain() { sed "s/$ESC\[[0-9;]*m//g" "$1"; }

# ---- auto on a terminal: text, in colour ----
T="$WORK/tty.log"
serve_and_drive pty "$T"
check "terminal: no JSON line" no_json "$T"
check "terminal: the start-up line as text" \
  grep -qE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} INFO  listening address=127\.0\.0\.1 port=[0-9]+ workers=1' <(plain "$T")
check "terminal: a script's line with its fields" \
  grep -qE 'INFO  greeted request_id=[0-9a-f]{32} trace_id=[0-9a-f]{32} span_id=[0-9a-f]{16} .*who="ada lovelace"' <(plain "$T")
check "terminal: numbers bare, tables as JSON" grep -qE 'greeted .*(n=3.*tags=\["a","b"\]|tags=\["a","b"\].*n=3)' <(plain "$T")
check "terminal: the access line" grep -qE 'INFO  request .* method=GET path=/hello route="GET /hello" status=200 duration_ms=[0-9.]+' <(plain "$T")
check "terminal: an error at ERROR, its traceback indented below" \
  bash -c 'grep -A2 "ERROR handler error" <(sed "s/\x1b\[[0-9;]*m//g" "$1") | grep -q "^    traceback:"' _ "$T"
check "terminal: levels and keys in colour" grep -q "${ESC}\[32mINFO ${ESC}\[0m" "$T"
check "terminal: an escape byte a client sent stays escaped" grep -q 'who="\\u001b\[31mred\\u009b"' <(plain "$T")
check "terminal: no escape sequence but the colours" \
  bash -c '! grep -q "$(printf "\033")\[31mred" "$1"' _ "$T"

# ---- NO_COLOR: text without colour ----
T2="$WORK/nocolour.log"
serve_and_drive pty "$T2" NO_COLOR=1
check "NO_COLOR: text" grep -q 'INFO  listening' "$T2"
check "NO_COLOR: no escape byte at all" bash -c '! grep -q "$(printf "\033")" "$1"' _ "$T2"

# ---- auto into a pipe: JSON ----
P="$WORK/pipe.log"
serve_and_drive pipe "$P"
check "pipe: every line is JSON" all_json "$P"
check "pipe: the access line as JSON" grep -q '"msg":"request".*"status":200' "$P"

# ---- forced ----
J="$WORK/tty-json.log"
serve_and_drive pty "$J" MAYFLY_LOG_FORMAT=json
check "MAYFLY_LOG_FORMAT=json on a terminal: every line is JSON" all_json "$J"
# The host's lines compared (a script's fields come in its table's order, which is per process).
check "MAYFLY_LOG_FORMAT=json: byte for byte as into a pipe (but times and ids)" bash -c '
  norm() { grep -v "\"msg\":\"\(listening\|ready\|greeted\)\"" "$1" | sed -E "s/\"ts\":\"[^\"]*\"//; s/[0-9a-f]{32}|[0-9a-f]{16}|\"duration_ms\":[0-9.]+//g" | sort; }
  diff <(norm "$1") <(norm "$2")' _ "$J" "$P"
X="$WORK/pipe-text.log"
serve_and_drive pipe "$X" MAYFLY_LOG_FORMAT=text
check "MAYFLY_LOG_FORMAT=text into a pipe: text" grep -qE '^[0-9:.]{12} INFO  listening' "$X"
check "MAYFLY_LOG_FORMAT=text into a pipe: no colour" bash -c '! grep -q "$(printf "\033")" "$1"' _ "$X"
check "the flag overrides the variable" bash -c '
  port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])")
  MAYFLY_LOG_FORMAT=json MAYFLY_LISTEN=127.0.0.1:$port MAYFLY_SCRIPTS="$2" MAYFLY_DRAIN_DELAY=0 \
    timeout -s TERM 1 "$1" serve --log-format text 2>&1 | grep -q "INFO  listening"' _ "$MAYFLY_BIN" "$S"

out=$(MAYFLY_LOG_FORMAT=yaml "$MAYFLY_BIN" serve 2>&1); rc=$?
check "a bad value: exit 2" [ "$rc" = 2 ]
check "a bad value: the message names the setting and the choices" grep -q 'MAYFLY_LOG_FORMAT: expected json, text or auto' <<<"$out"
check "mayfly --help lists it" bash -c '"$1" --help | grep -q -- "--log-format *MAYFLY_LOG_FORMAT"' _ "$MAYFLY_BIN"
mf_finish

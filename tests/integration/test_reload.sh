# Hot reload of the scripts folder: plain edits, rename-saves, additions and deletions, the
# kubelet's ConfigMap swap, SIGHUP, broken sets that keep the old version serving, and a storm
# of reloads under continuous load with no failed request and no response mixing two versions.
source "$(dirname "$0")/lib.sh"

# version FILE TAG: a route file whose every response names its version, twice, far apart.
version() {
  cat >"$1" <<LUA
local tag = "$2"
return {
  ["GET /v"] = function() return tag .. ":" .. string.rep(".", 64) .. ":" .. tag end,
}
LUA
}

# wait_body PATH WANT: polls until GET PATH answers 200 with body WANT (5 s at most).
wait_body() {
  for _ in $(seq 1 100); do
    http GET "$1"
    [ "$STATUS" = 200 ] && [ "$BODY" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
body_of() { printf '%s:%s:%s' "$1" "$(printf '.%.0s' $(seq 1 64))" "$1"; }

# ---- a plain folder ----
dir="$WORK/plain"
mkdir -p "$dir"
version "$dir/v.lua" one
mf_start "$dir" MAYFLY_WORKERS=2 || exit 1
expect "serves the first version" GET /v 200 "one:"

version "$dir/v.lua" two
check "a plain edit is picked up" wait_body /v "$(body_of two)"

version "$dir/.v.lua.swp" three && mv "$dir/.v.lua.swp" "$dir/v.lua"
check "a rename-save is picked up" wait_body /v "$(body_of three)"

printf 'return { ["GET /added"] = function() return "added" end }\n' >"$dir/added.lua"
check "an added file is served" wait_body /added added
check "the reload names the added file" log_has '"changed":{"added":1,"modified":0,"removed":0},"changed_files":"added.lua (added)"'
rm "$dir/added.lua"
ok=
for _ in $(seq 1 100); do http GET /added; [ "$STATUS" = 404 ] && { ok=1; break; }; sleep 0.05; done
check "a removed file stops being served" [ -n "$ok" ]
check "the reload names the removed file" log_has '"changed_files":"added.lua (removed)"'

printf 'return {\n  ["GET /v"] = function() return "broken" end\n  oops\n}\n' >"$dir/v.lua"
sleep 1
expect "a syntax error keeps the old version" GET /v 200 "three:"
expect "readyz stays ready and shows the error" GET /readyz 200 '"last_error":"'
check "the error names file and line" grep -q 'v.lua:3:' <<<"$BODY"
check "the failure is logged" log_has "reload failed: the old version keeps serving"

version "$dir/v.lua" four
printf 'return { ["GET /v"] = function() return "clash" end }\n' >"$dir/clash.lua"
sleep 1
expect "a route conflict keeps the old version" GET /v 200 "three:"
rm "$dir/clash.lua"
check "fixing it reloads" wait_body /v "$(body_of four)"
http GET /readyz
check "readyz: no error after the fix" bash -c '! grep -q last_error <<<"$1"' _ "$BODY"
check "readyz shows the serving version" grep -q '"version":"[0-9a-f]\{16\}"' <<<"$BODY"
check "reload logged with version and duration" log_has '"msg":"reloaded".*"duration_ms"'
mf_stop
check "exit 0 after reloads" [ "$MF_EXIT" = 0 ]

# ---- SIGHUP with the watcher out of play (the folder is changed and then SIGHUP sent at once) ----
dir="$WORK/hup"
mkdir -p "$dir"
version "$dir/v.lua" one
mf_start "$dir" || exit 1
version "$dir/v.lua" two
kill -HUP "$MF_PID"
check "SIGHUP reloads" wait_body /v "$(body_of two)"
mf_stop

# ---- a ConfigMap volume and the kubelet's update ----
cm="$WORK/configmap"
mkdir -p "$cm/..2026_01_01_00_00_00.1"
version "$cm/..2026_01_01_00_00_00.1/v.lua" cm-one
ln -s ..2026_01_01_00_00_00.1 "$cm/..data"
ln -s ..data/v.lua "$cm/v.lua"
mf_start "$cm" MAYFLY_WORKERS=2 || exit 1
expect "ConfigMap: first snapshot" GET /v 200 "cm-one:"
# What the kubelet does: a new timestamped folder, ..data_tmp pointing at it, renamed over
# ..data, the old folder deleted.
kubelet_swap() {
  local new="..2026_01_01_00_00_00.$2"
  mkdir "$cm/$new"
  version "$cm/$new/v.lua" "$1"
  ln -s "$new" "$cm/..data_tmp"
  mv -T "$cm/..data_tmp" "$cm/..data"
  rm -rf "$cm/$3"
}
kubelet_swap cm-two 2 ..2026_01_01_00_00_00.1
check "ConfigMap: the swap is picked up" wait_body /v "$(body_of cm-two)"
mf_stop

# ---- a folder replaced whole ----
dir="$WORK/whole"
mkdir -p "$dir"
version "$dir/v.lua" one
mf_start "$dir" || exit 1
mkdir "$WORK/whole.new" && version "$WORK/whole.new/v.lua" two
rm -rf "$dir" && mv "$WORK/whole.new" "$dir"
check "a folder replaced whole is picked up" wait_body /v "$(body_of two)"
mf_stop

# ---- a run waiting across a reload ----
# It finishes on the version it began on; a request that comes meanwhile waits for it, then is
# served by the new version (a state has one version at a time).
dir="$WORK/waiting"
mkdir -p "$dir"
slow_version() {
  printf 'local tag = "%s"\nreturn {\n  ["GET /slow"] = function() mayfly.sleep(1) return tag end,\n  ["GET /v"] = function() return tag end,\n}\n' "$2" >"$1"
}
slow_version "$dir/v.lua" old
mf_start "$dir" MAYFLY_WORKERS=1 || exit 1
curl -s --max-time 10 "$(url /slow)" >"$WORK/slow.out" &
slow=$!
sleep 0.2
slow_version "$WORK/next.lua" new && mv "$WORK/next.lua" "$dir/v.lua"
kill -HUP "$MF_PID"
sleep 0.3
t0=$(date +%s%N)
http GET /v
t1=$(date +%s%N)
wait "$slow"
check "a request during the waiting run is served by the new version" [ "$BODY" = new ]
check "the waiting run finishes on its own version" [ "$(cat "$WORK/slow.out")" = old ]
check "that request waited for the old version's run" [ $(((t1 - t0) / 1000000)) -ge 200 ]
mf_stop

# ---- a reload storm under load ----
dir="$WORK/storm"
mkdir -p "$dir"
version "$dir/v.lua" a
mf_start "$dir" MAYFLY_WORKERS=2 || exit 1
python3 - "$MF_PORT" "$WORK/load.out" <<'PY' &
import http.client, sys, threading, time
port, out = int(sys.argv[1]), sys.argv[2]
good = {t + ":" + "." * 64 + ":" + t for t in ("a", "b")}
stats = {"ok": 0, "bad": 0, "errors": 0, "seen": set()}
stop = time.time() + 12
lock = threading.Lock()
def client(keepalive):
    conn = None
    while time.time() < stop:
        try:
            if conn is None or not keepalive:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/v")
            r = conn.getresponse()
            body = r.read().decode()
            with lock:
                if r.status == 200 and body in good:
                    stats["ok"] += 1
                    stats["seen"].add(body[0])
                else:
                    stats["bad"] += 1
                    stats.setdefault("first_bad", "%d %r" % (r.status, body[:80]))
            if not keepalive:
                conn.close()
        except Exception as e:
            with lock:
                stats["errors"] += 1
            conn = None
threads = [threading.Thread(target=client, args=(k,)) for k in (True, True, False, False)]
for t in threads: t.start()
for t in threads: t.join()
open(out, "w").write("%d %d %d %s %s\n" % (stats["ok"], stats["bad"], stats["errors"], "".join(sorted(stats["seen"])), stats.get("first_bad", "")))
PY
load=$!
sleep 0.5
# Each version is written beside and renamed in (as a ConfigMap swap or a deploy does): an
# in-place rewrite caught half-written by SIGHUP is a different, valid set (an empty file is a
# module), not a version under test.
for i in $(seq 1 100); do
  if [ $((i % 2)) = 1 ]; then version "$WORK/next.lua" b; else version "$WORK/next.lua" a; fi
  mv "$WORK/next.lua" "$dir/v.lua"
  kill -HUP "$MF_PID"
  sleep 0.1
done
wait "$load"
read -r ok bad errors seen first_bad <"$WORK/load.out"
echo "    storm: $ok good responses, $bad bad, $errors failed ${first_bad:+(first bad: $first_bad)}"
check "storm: requests were served" [ "$ok" -gt 100 ]
check "storm: no failed request" [ "$errors" = 0 ]
check "storm: every body wholly from one version" [ "$bad" = 0 ]
check "storm: both versions were served" [ "$seen" = ab ]
check "storm: reloads happened" [ "$(grep -c '"msg":"reloaded"' "$MF_LOG")" -gt 20 ]
mf_stop
check "exit 0 after the storm" [ "$MF_EXIT" = 0 ]
mf_finish

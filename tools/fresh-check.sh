#!/usr/bin/env bash
# The README's two commands on a brand-new Debian 12 machine: builds a fresh bookworm root with
# mmdebstrap (--variant=apt: the Essential packages and apt, less than any installed system
# has), clones the committed tree (HEAD of the repository this script is in) into it, and runs,
# as root in a chroot with /proc, /dev and /sys mounted in a mount namespace of its own:
#   tools/run.sh   until `curl localhost:PORT/hello` answers, then stops it with SIGTERM
#   tools/test.sh  to its "N passed, N failed" line
# and prints one verdict line at the end. Too slow for every CI run (about 10 minutes on two
# cores: the install, three builds and the whole suite twice): run it when the install steps,
# the test command or the dependencies change. The chroot shares this machine's network: the
# run command listens on 8080 when that port is free, else on a free one. Needs root and
# Debian's mirrors.
#
# Usage: tools/fresh-check.sh [--run-only | --test-only] [--keep] [--dir DIR]
#   --keep     keep the root (and its builds) instead of removing it at the end
#   --dir DIR  where the work folder goes [/var/tmp]; the log stays there as mayfly-fresh.*.log
# Exit status: 0 when every command run passed.
set -uo pipefail

do_run=1
do_test=1
keep=0
base=/var/tmp
while [ $# -gt 0 ]; do
  case $1 in
  --run-only) do_test=0 ;;
  --test-only) do_run=0 ;;
  --keep) keep=1 ;;
  --dir) base=${2:?--dir needs a folder}; shift ;;
  -h | --help) sed -n '2,/^set -/{/^set -/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  *) echo "fresh-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "fresh-check: needs root (mmdebstrap, chroot, mounts)" >&2; exit 2; }

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || exit 2
rev=$(git -C "$repo" rev-parse HEAD) || exit 2
short=${rev:0:10}

if ! command -v mmdebstrap >/dev/null; then
  echo "fresh-check: installing mmdebstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null ||
    { echo "fresh-check: cannot install mmdebstrap" >&2; exit 2; }
fi

work=$(mktemp -d "$base/mayfly-fresh.XXXXXX") || exit 2
root=$work/root
log=$work.log
: >"$log"
cleanup() {
  if [ "$keep" = 1 ]; then
    echo "fresh-check: kept the root in $root (remove it with rm -rf --one-file-system $work)" >&2
  else
    # The mounts live only in the chroot's namespace, gone with it: nothing here crosses into
    # /proc, /dev or /sys of this machine.
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "fresh-check: $*" | tee -a "$log" >&2; }

say "building a fresh bookworm root in $root"
start=$SECONDS
if ! mmdebstrap --variant=apt --quiet bookworm "$root" >>"$log" 2>&1; then
  tail -20 "$log" >&2
  echo "fresh-check: FAIL: mmdebstrap could not build the root (log: $log)"
  exit 1
fi
# What an installed machine has and a bare root lacks: a resolver and a hosts file.
[ -s "$root/etc/resolv.conf" ] || cp /etc/resolv.conf "$root/etc/resolv.conf"
[ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
  >"$root/etc/hosts"
say "root ready in $((SECONDS - start)) s; cloning $short into /root/mayfly"
git clone -q --no-hardlinks "$repo" "$root/root/mayfly" &&
  git -C "$root/root/mayfly" checkout -q --detach "$rev" ||
  { echo "fresh-check: FAIL: cannot clone $repo at $short"; exit 1; }

# The run command's port: 8080 as the README says, unless something on this machine (whose
# network the chroot shares) already listens there.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=8080
if ! port_free 8080; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  say "8080 is in use on this machine: the run command listens on $port"
fi

# Inside the chroot: the commands as a user types them, in the clone, one after the other.
inner='
set -u
cd /root/mayfly
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
do_run=$1 do_test=$2 port=$3
if [ "$do_run" = 1 ]; then
  [ "$port" = 8080 ] || export MAYFLY_LISTEN=0.0.0.0:$port
  echo "== tools/run.sh${MAYFLY_LISTEN:+ (MAYFLY_LISTEN=$MAYFLY_LISTEN)}"
  setsid tools/run.sh >/root/run.log 2>&1 &
  run_pid=$!
  answer= verdict="run: no answer from /hello"
  for _ in $(seq 1 1800); do   # the first run installs and builds: up to 30 min
    kill -0 "$run_pid" 2>/dev/null || { verdict="run: tools/run.sh exited before /hello answered"; break; }
    if command -v curl >/dev/null && answer=$(curl -fsS --max-time 5 "localhost:$port/hello" 2>/dev/null); then
      verdict="run: /hello answered \"$answer\""
      break
    fi
    sleep 1
  done
  kill -TERM "$run_pid" 2>/dev/null
  for _ in $(seq 1 60); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$run_pid" 2>/dev/null; then
    kill -KILL -- "-$run_pid" 2>/dev/null
    verdict="$verdict, but it did not stop on SIGTERM"
  fi
  cat /root/run.log
  echo "RESULT $verdict"
fi
if [ "$do_test" = 1 ]; then
  echo "== tools/test.sh"
  tools/test.sh
  echo "RESULT test: exit $?"
fi
'
say "running the README's commands in the chroot (output in $log)"
unshare -m --propagation private /bin/bash -c '
  r=$1; shift
  # The root a mount point, as / is on a machine (unshare -m --propagation needs it).
  mount --bind "$r" "$r" &&
  { mount -t proc proc "$r/proc" || mount --rbind /proc "$r/proc"; } &&
    mount --rbind /dev "$r/dev" &&
    { mount -t sysfs sysfs "$r/sys" || mount --rbind /sys "$r/sys"; } || exit 1
  mount -t tmpfs tmpfs "$r/dev/shm" 2>/dev/null
  exec chroot "$r" /usr/bin/env -i /bin/bash -c "$@"' _ "$root" "$inner" _ "$do_run" "$do_test" "$port" \
  2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}

# ---- the verdict ----
ok=1
parts=()
if [ "$do_run" = 1 ]; then
  r=$(grep -a '^RESULT run:' "$log" | tail -1 | sed 's/^RESULT //')
  [ -n "$r" ] || r="run: did not finish (chroot exit $rc)"
  grep -q '^run: /hello answered' <<<"$r" && ! grep -q 'did not stop' <<<"$r" || ok=0
  parts+=("$r")
fi
if [ "$do_test" = 1 ]; then
  counts=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  t=$(grep -a '^RESULT test:' "$log" | tail -1 | sed 's/^RESULT test: //')
  if [ -n "$counts" ] && [ "$t" = "exit 0" ]; then
    parts+=("test: $counts")
  else
    ok=0
    failing=$(grep -aE '^[[:space:]]*[0-9]+ - .* \((Failed|Timeout|Not Run|SEGFAULT|Subprocess aborted)' "$log" |
      sed -E 's/^[[:space:]]*[0-9]+ - ([^ ]+).*/\1/' | sort -u | paste -sd' ')
    fuzz=$(grep -aE '^fuzz: [0-9]+ failed' "$log" | tail -1)
    parts+=("test: ${counts:-no summary (${t:-did not finish})}${failing:+; failing: $failing}${fuzz:+; $fuzz}")
  fi
fi
verdict=${parts[0]}
for p in "${parts[@]:1}"; do verdict="$verdict; $p"; done
minutes=$(((SECONDS - start + 59) / 60))
if [ "$ok" = 1 ]; then
  echo "fresh-check: PASS on a fresh bookworm root at $short in $minutes min: $verdict"
else
  echo "fresh-check: FAIL on a fresh bookworm root at $short in $minutes min: $verdict (log: $log)"
fi
[ "$ok" = 1 ]

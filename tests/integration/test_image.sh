#!/usr/bin/env bash
# The container image without a Docker engine: the Dockerfile's runtime stage assembled as a
# folder (the binary, the copied scripts, exactly the shared libraries ldd lists, each checked
# to come from a package the stage installs or from Debian's base) and run the way a container
# runtime with readOnlyRootFilesystem would: its own mount namespace, that folder as the root,
# mounted read-only, no /tmp, no shell, the Dockerfile's USER and ENV and ENTRYPOINT, /proc and
# /dev/{null,zero,urandom} as runtimes provide. It must serve, answer the probes and drain to
# exit 0 on SIGTERM sent to the ENTRYPOINT's PID. Needs root (for the namespace and chroot).
. "$(dirname "$0")/lib.sh"

D="$MAYFLY_SOURCE_DIR/Dockerfile"
if [ "$(id -u)" != 0 ]; then
  echo "1..0 # skipped: needs root for unshare -m and chroot"
  exit 0
fi

# ---- the Dockerfile itself ----
build_run=$(awk '/^FROM/{n++} n==1 && /^RUN/' "$D")
check "build stage runs tools/deps.sh (the README's install step)" grep -q 'tools/deps.sh' <<<"$build_run"
cfg='cmake -S . -B build -DCMAKE_BUILD_TYPE=Release'
check "build stage configures as tools/run.sh does" bash -c 'grep -qF -- "$1" <<<"$2" && grep -qF -- "$1" "$3"' _ "$cfg" "$build_run" "$MAYFLY_SOURCE_DIR/tools/run.sh"
check "build stage builds with cmake --build build" grep -q 'cmake --build build' <<<"$build_run"
check "two stages" [ "$(grep -c '^FROM debian:bookworm' "$D")" = 2 ]

ROOT="$WORK/root"
vars=$(python3 "$TESTS_DIR/test_image_rootfs.py" "$D" "$MAYFLY_SOURCE_DIR" "$MAYFLY_BIN" "$ROOT" 2>"$WORK/rootfs.err")
rc=$?
eval "$vars"
check "the runtime stage assembles: every library ldd lists (and the CA bundle) comes from its packages" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/    /' "$WORK/rootfs.err"
if [ -z "${IMG_ENTRYPOINT:-}" ]; then
  fail "the Dockerfile's runtime stage has an ENTRYPOINT to run"
  mf_finish
fi
check "runtime stage installs no -dev package" bash -c '! grep -q -- "-dev" <<<"$1"' _ "${IMG_PACKAGES:-}"
check "runs as a non-root numeric user" bash -c '[[ "$1" =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]]' _ "${IMG_USER:-}"
check "ENTRYPOINT in exec form" [ "${IMG_ENTRYPOINT_EXEC_FORM:-}" = yes ]
check "STOPSIGNAL SIGTERM" [ "${IMG_STOPSIGNAL:-}" = SIGTERM ]
check "EXPOSE 8080 (the default listen port)" bash -c '[ "$1" = 8080 ] && "$2" --help | grep -q "MAYFLY_LISTEN .*:8080\]"' _ "${IMG_EXPOSE:-}" "$MAYFLY_BIN"
check "no shell and no /tmp in the assembled root" bash -c '[ ! -e "$1/bin/sh" ] && [ ! -e "$1/tmp" ]' _ "$ROOT"

# ---- run it: read-only root, non-root user, PID = the ENTRYPOINT ----
# A private mount namespace needs / to be a mount point, which it is on a machine and in a
# container, but not in a chroot into a plain folder.
if ! unshare -m --propagation private true 2>"$WORK/unshare.err"; then
  fail "a private mount namespace to run the image in" "$(cat "$WORK/unshare.err")" \
    "in a chroot, bind-mount its root onto itself first (tools/fresh-check.sh does)"
  mf_finish
fi
mkdir -p "$ROOT/proc" "$ROOT/dev"
touch "$ROOT/dev/null" "$ROOT/dev/zero" "$ROOT/dev/urandom"
MF_PORT=$(free_port)
MF_LOG="$WORK/image.log"
read -r -a entry <<<"$IMG_ENTRYPOINT"
read -r -a envs <<<"$IMG_ENVS"
# unshare, bash and chroot each exec the next: the PID started here is the host's.
env -i "${envs[@]}" MAYFLY_LISTEN="127.0.0.1:$MF_PORT" MAYFLY_DRAIN_DELAY=1s \
  ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} ${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS} \
  unshare -m --propagation private /bin/bash -c '
    set -e
    r=$1 user=$2; shift 2
    mount --bind "$r" "$r"
    mount -o remount,ro,bind "$r"
    mount -t proc proc "$r/proc"
    for d in null zero urandom; do mount --bind "/dev/$d" "$r/dev/$d"; done
    exec /usr/sbin/chroot --userspec="$user" "$r" "$@"' _ "$ROOT" "$IMG_USER" "${entry[@]}" \
  >"$MF_LOG" 2>&1 &
MF_PID=$!
for _ in $(seq 1 200); do log_has '"msg":"ready"' && break; kill -0 "$MF_PID" 2>/dev/null || break; sleep 0.05; done
check "the image's process started and is ready" log_has '"msg":"ready"'
log_has '"msg":"ready"' || sed 's/^/    /' "$MF_LOG"

uid=$(awk '/^Uid:/{print $2}' "/proc/$MF_PID/status" 2>/dev/null)
check "runs as the Dockerfile's user" [ "$uid" = "${IMG_USER%%:*}" ]
check "the ENTRYPOINT is the process we signal (no shell between)" \
  bash -c '[ "$(readlink "/proc/$1/exe")" != /bin/bash ] && tr "\0" " " <"/proc/$1/cmdline" | grep -q "^$2"' _ "$MF_PID" "${entry[0]}"
check "its root is mounted read-only" bash -c 'awk '\''$5 == "/" {print $6}'\'' "/proc/$1/mountinfo" | grep -q "^ro"' _ "$MF_PID"
expect "serves the default scripts" GET '/hello?name=image' 200 'hello image'
expect "/livez" GET /livez 200 ok
expect "/readyz" GET /readyz 200
expect "/startupz" GET /startupz 200
expect "a JSON route" POST /echo 200 '"a":1' -- -d '{"a":1}'

mf_stop
check "drains to exit 0 on SIGTERM" [ "$MF_EXIT" = 0 ]
check "no write was refused (nothing tried to write)" bash -c '! grep -qi "read-only file system" "$1"' _ "$MF_LOG"
mf_finish

# tests/bench/lib.sh — pieces the benchmark scripts share; sourced, never run.

# free_port: a loopback TCP port nobody listens on (at the time of asking).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# nginx_conf DIR PORT HTTP-EXTRA SERVER-BODY [MAIN-EXTRA]: DIR/nginx.conf for one nginx worker in
# the foreground, listening on PORT with SERVER-BODY as its server block; HTTP-EXTRA goes in the
# http block, MAIN-EXTRA (say "master_process off;") at the top.
nginx_conf() {
    mkdir -p "$1"
    cat >"$1/nginx.conf" <<CONF
daemon off;
${5:-}
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $1/cb; proxy_temp_path $1/px; fastcgi_temp_path $1/fc;
    uwsgi_temp_path $1/uw; scgi_temp_path $1/sc;
    $3
    server { listen 127.0.0.1:$2; $4 }
}
CONF
}

# sequential_client PORT N PATH: N GETs of PATH one after another on one keep-alive connection;
# fails unless each is a 200.
sequential_client() {
    python3 - "$1" "$2" "$3" <<'PY'
import socket, sys
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
request = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()
buf = b""
for _ in range(n):
    s.sendall(request)
    while True:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].decode("latin-1").split("\r\n")
            assert head[0].startswith("HTTP/1.1 200"), head[0]
            length = next(int(l.split(":", 1)[1]) for l in head if l.lower().startswith("content-length:"))
            if len(buf) >= head_end + 4 + length:
                buf = buf[head_end + 4 + length:]
                break
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("the server closed the connection")
        buf += chunk
PY
}

# callgrind_requests OUT PORT PATH N COMMAND...: runs COMMAND (a server on PORT) under callgrind,
# warms it with 2000 GETs of PATH, zeroes the counters, sends N more one after another, and
# leaves the dump of those N in OUT. The server's pid is in BENCH_PIDS while it runs, for traps.
BENCH_PIDS=()
callgrind_requests() {
    local out=$1 port=$2 path=$3 n=$4 pid
    shift 4
    valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$@" >/dev/null 2>"$out.log" &
    pid=$!
    BENCH_PIDS+=("$pid")
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null "http://127.0.0.1:$port$path" && break
        kill -0 "$pid" 2>/dev/null || { cat "$out.log" >&2; exit 1; }
        sleep 0.1
    done
    sequential_client "$port" 2000 "$path"
    callgrind_control -z "$pid" >/dev/null 2>&1
    sequential_client "$port" "$n" "$path"
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" || true
    mv "$out.$pid.1" "$out"
}

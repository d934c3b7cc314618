#!/usr/bin/env bash
# Check-in load benchmark: an update server (release build) with DEVICES enrolled devices
# (100,000 by default, seeded in bulk through the server's store library) and one
# published release, hammered with `POST /api/v1/device/checkin` (each request a
# different device's token and body) for DURATION over CONNECTIONS keep-alive
# connections; then nginx serving a 200-byte static file, hammered by the same load
# generator the same way. Targets: check-ins/s >= 0.5x nginx's requests/s, p99 < 20 ms.
#
#   cargo build --release -p update-server -p fleet-sim && bench/checkin-load.sh
#
# Needs nginx (Debian package nginx-light) and python3. `ota` (keys, release, publish)
# may be a debug build: OTA=target/debug/ota. The load generator runs on the same
# machine as the server and shares its cores. Results: bench/results/checkin-load.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${BIN_DIR:-target/release}")
ota=$(realpath "${OTA:-$bin/ota}")
devices=${DEVICES:-100000}
duration=${DURATION:-20s}
connections=${CONNECTIONS:-64}
http_enrol=${HTTP_ENROL:-500}
out=bench/results/checkin-load.md

work=$(mktemp -d /tmp/ota-checkin-load-XXXXXX)
server_pid= nginx_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/keys"
for key in snapshot timestamp targets; do install -m 600 "keys-example/$key.pem" "$work/keys/"; done
token=$("$bin/update-server" admin-token create --data-dir "$work/data")
export OTA_ADMIN_TOKEN=$token

echo "== seeding $devices devices through update_server::store::Store (one transaction per 5,000)"
seed_line=$("$bin/ota-fleet-sim" seed --data-dir "$work/data" --devices "$devices" --class camera \
  --id-prefix load- --devices-file "$work/devices.txt")
echo "$seed_line"

"$bin/update-server" serve --data-dir "$work/data" --listen 127.0.0.1:0 \
  --root keys-example/root.json --snapshot-key "$work/keys/snapshot.pem" \
  --timestamp-key "$work/keys/timestamp.pem" >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/server.out" && break; sleep 0.1; done
url=$(sed -n 's/^update-server listening on //p' "$work/server.out")
[[ -n $url ]] || { cat "$work/server.log"; exit 1; }

echo "== publishing one 4 KiB release for camera / cam-v2"
mkdir -p "$work/repo/metadata"
cp keys-example/root.json "$work/repo/root.json"
cp keys-example/root.json "$work/repo/metadata/1.root.json"
head -c 4096 /dev/urandom >"$work/camera-1.1.0.img"
"$ota" release add "$work/camera-1.1.0.img" --repo "$work/repo" --key "$work/keys/targets.pem" \
  --version 1.1.0 --class camera --hardware cam-v2 --no-zstd --no-deltas >/dev/null
"$ota" publish --repo "$work/repo" --server "$url" >/dev/null

echo "== enrolling $http_enrol more devices over HTTP (enrol + one check-in each, for comparison)"
enrol_start=$(date +%s.%N)
"$bin/ota-fleet-sim" --server "$url" --devices "$http_enrol" --enroll --id-prefix http- \
  --class camera --hardware no-release-board --until-idle --concurrency 16 --progress 60s >/dev/null
enrol_secs=$(python3 -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.1f}')" "$enrol_start")
enrol_rate=$(python3 -c "import sys; print(f'{int(sys.argv[1])/float(sys.argv[2]):.0f}')" "$http_enrol" "$enrol_secs")
echo "HTTP: $http_enrol devices in $enrol_secs s ($enrol_rate/s)"

echo "== check-ins: $duration, $connections connections"
checkin=$("$bin/ota-fleet-sim" load --server "$url" --devices-file "$work/devices.txt" \
  --duration "$duration" --connections "$connections")
echo "$checkin"

echo "== the server's /healthz (no database): $duration, $connections connections"
healthz=$("$bin/ota-fleet-sim" load --static-url "$url/healthz" --duration "$duration" \
  --connections "$connections")
echo "$healthz"

echo "== nginx static 200-byte file: $duration, $connections connections"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/static" "$work/nginx-tmp"
head -c 200 /dev/zero | tr '\0' 'x' >"$work/static/ping.txt"
# `user`: when run as root, nginx's workers would otherwise drop to nobody, who cannot
# read the private temp dir (as another user nginx ignores the directive).
cat >"$work/nginx.conf" <<NGINX
user $(id -un) $(id -gn);
worker_processes auto;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tmp/body;
  proxy_temp_path $work/nginx-tmp/proxy;
  fastcgi_temp_path $work/nginx-tmp/fastcgi;
  uwsgi_temp_path $work/nginx-tmp/uwsgi;
  scgi_temp_path $work/nginx-tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    root $work/static;
  }
}
NGINX
nginx -e "$work/nginx-error.log" -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/ping.txt" >/dev/null && break; sleep 0.1; done
static=$("$bin/ota-fleet-sim" load --static-url "http://127.0.0.1:$port/ping.txt" \
  --duration "$duration" --connections "$connections")
echo "$static"

python3 - "$out" "$checkin" "$static" "$healthz" "$(nproc)" "$(uname -r)" "$devices" "$duration" \
  "$connections" "$seed_line" "$http_enrol" "$enrol_secs" "$enrol_rate" <<'PY'
import re, sys
out, checkin, static, healthz, nproc, kernel, devices, duration, connections, seed, n_http, http_secs, http_rate = sys.argv[1:]
def fields(line):
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", line)}
c, s, h = fields(checkin), fields(static), fields(healthz)
ratio = c["rps"] / s["rps"] if s.get("rps") else 0.0
ok = lambda b: "met" if b else "**missed**"
rows = [
    ("check-ins/s (server)", f"{c['rps']:.0f}"),
    ("check-in latency p50 / p90 / p99 / max", f"{c['p50']:.2f} / {c['p90']:.2f} / {c['p99']:.2f} / {c['max']:.2f} ms"),
    ("check-in errors", f"{c['errors']:.0f} of {c['requests'] + c['errors']:.0f}"),
    ("server /healthz req/s (same stack, no database)", f"{h['rps']:.0f}"),
    ("server /healthz latency p50 / p99", f"{h['p50']:.2f} / {h['p99']:.2f} ms"),
    ("nginx static req/s", f"{s['rps']:.0f}"),
    ("nginx latency p50 / p90 / p99 / max", f"{s['p50']:.2f} / {s['p90']:.2f} / {s['p99']:.2f} / {s['max']:.2f} ms"),
    ("ratio check-ins / nginx", f"{ratio:.2f}"),
    ("target: check-ins >= 0.5x nginx", ok(ratio >= 0.5)),
    ("target: check-in p99 < 20 ms", ok(c["p99"] < 20.0)),
]
# Hand-written analysis below the marker survives re-runs.
marker = "<!-- analysis: kept by checkin-load.sh -->"
try:
    kept = open(out).read().split(marker, 1)[1]
except (OSError, IndexError):
    kept = "\n"
with open(out, "w") as f:
    f.write("# Check-in load benchmark\n\n")
    f.write(f"Command: `bench/checkin-load.sh` (DEVICES={devices}, DURATION={duration}, CONNECTIONS={connections})  \n")
    f.write(f"Machine: nproc {nproc}, Linux {kernel}. The load generator (`ota-fleet-sim load`) runs on the same cores as the server and nginx.  \n")
    f.write(f"Seeding: {seed}.  \nHTTP enrolment (enrol + one check-in, 16 at a time): {n_http} devices in {http_secs} s ({http_rate}/s).\n\n")
    f.write("| measure | value |\n| --- | --- |\n")
    for k, v in rows:
        f.write(f"| {k} | {v} |\n")
    f.write(f"\nRaw lines:\n\n```\ncheck-ins: {checkin}\nhealthz:   {healthz}\nnginx:     {static}\n```\n")
    f.write(f"\n{marker}{kept}")
print(open(out).read())
PY

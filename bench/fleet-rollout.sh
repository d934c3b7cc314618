#!/usr/bin/env bash
# A simulated fleet of three classes (camera, gateway, medical; PER_CLASS devices each,
# 10,200 in all by default) through staged rollouts, scraped by a real Prometheus.
# Each class approves one management network (127.0.0.2/32); a share of each class checks
# in from 127.0.0.3 instead, and a share has an edited configuration file. camera and
# gateway roll 1.1.0 out in waves 10,50,100 with few failures; medical's devices fail
# often, so its rollout halts itself in the first wave. At the end the script prints, per
# class, the four numbers as Prometheus reports them, the rollouts' state and the alerts
# firing, and writes them to bench/results/fleet-rollout.md.
#
#   cargo build --release -p tools -p update-server -p fleet-sim && bench/fleet-rollout.sh
#
# Needs prometheus (Debian package). BIN_DIR=target/debug works too (slower).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${BIN_DIR:-target/release}")
per_class=${PER_CLASS:-3400}
duration=${DURATION:-120s}
out=bench/results/fleet-rollout.md
work=$(mktemp -d /tmp/ota-fleet-rollout-XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/keys" "$work/repo/metadata"
for key in snapshot timestamp targets; do install -m 600 "keys-example/$key.pem" "$work/keys/"; done
export OTA_ADMIN_TOKEN=$("$bin/update-server" admin-token create --data-dir "$work/data")
"$bin/update-server" serve --data-dir "$work/data" --listen 127.0.0.1:0 --poll-interval 5s \
  --root keys-example/root.json --snapshot-key "$work/keys/snapshot.pem" \
  --timestamp-key "$work/keys/timestamp.pem" >"$work/server.out" 2>"$work/server.log" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/server.out" && break; sleep 0.1; done
url=$(sed -n 's/^update-server listening on //p' "$work/server.out")
cp keys-example/root.json "$work/repo/root.json"
cp keys-example/root.json "$work/repo/metadata/1.root.json"

classes=(camera gateway medical)
printf 'telnet = off\n' >"$work/app.conf"
sha=$(sha256sum "$work/app.conf" | cut -d' ' -f1)
for class in "${classes[@]}"; do
  for version in 1.0.0 1.1.0; do
    head -c 16384 /dev/urandom >"$work/$class-$version.img"
    "$bin/ota" release add "$work/$class-$version.img" --repo "$work/repo" --key "$work/keys/targets.pem" \
      --version "$version" --class "$class" --hardware "$class-hw" --no-deltas >/dev/null
  done
  "$bin/ota" config add --repo "$work/repo" --key "$work/keys/targets.pem" --class "$class" \
    --version 1 --file "/etc/app.conf=$work/app.conf" >/dev/null
  printf '{"class":"%s","version":1,"files":[{"path":"/etc/app.conf","sha256":"%s"}]}' \
    "$class" "$sha" >"$work/$class-profile.json"
done
"$bin/ota" publish --repo "$work/repo" --server "$url" >/dev/null
for class in "${classes[@]}"; do
  "$bin/ota" class set "$class" --server "$url" --hardware "$class-hw" --baseline "$class-1.0.0.img" \
    --approved-network 127.0.0.2/32 --success-threshold 90% --poll-interval 60s >/dev/null
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/prometheus.yml" <<YML
global: {scrape_interval: 2s, evaluation_interval: 2s}
rule_files: [$(realpath ops/prometheus/alerts.yml)]
scrape_configs:
  - job_name: ota
    static_configs: [{targets: ['${url#http://}']}]
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$port" >/dev/null 2>"$work/prometheus.log" &
pids+=($!)

# Every device enrols and checks in once on the baseline.
simulate() { # class prefix devices source extra...
  local class=$1 prefix=$2 devices=$3 source=$4; shift 4
  "$bin/ota-fleet-sim" --server "$url" --devices "$devices" --class "$class" --hardware "$class-hw" \
    --from-version 1.0.0 --id-prefix "$class-$prefix" --enroll --tokens-dir "$work/tokens" \
    --source-addresses "$source" --config-profile "$work/$class-profile.json" \
    --concurrency 128 --progress 30s "$@"
}
off=$((per_class / 20))      # 5 % check in from an unapproved address
edited=$((per_class / 33))   # 3 % have an edited configuration file
main=$((per_class - off - edited))
start=$(date +%s)
for class in "${classes[@]}"; do
  simulate "$class" on- "$main" 127.0.0.2 --until-idle >/dev/null
  simulate "$class" edit- "$edited" 127.0.0.2 --until-idle --config-drift-rate 100% >/dev/null
  simulate "$class" off- "$off" 127.0.0.3 --until-idle >/dev/null
done
enrolled=$(( $(date +%s) - start ))

for class in camera gateway; do
  "$bin/ota" rollout start "$class" 1.1.0 --server "$url" --waves 10,50,100 --soak 15s \
    --max-failure-rate 10% --min-finished 50 >/dev/null
done
"$bin/ota" rollout start medical 1.1.0 --server "$url" --waves 10,50,100 --soak 15s \
  --max-failure-rate 10% --min-finished 50 >/dev/null

# The fleet polls for DURATION while waves open (or halt).
start=$(date +%s)
for class in "${classes[@]}"; do
  case $class in medical) fail=(--failure-rate 15% --rollback-rate 10%) ;; *) fail=(--failure-rate 1% --rollback-rate 1%) ;; esac
  simulate "$class" on- "$main" 127.0.0.2 --duration "$duration" --poll-interval 3s "${fail[@]}" >"$work/$class-on.log" &
  simulate "$class" edit- "$edited" 127.0.0.2 --duration "$duration" --poll-interval 3s --config-drift-rate 100% "${fail[@]}" >/dev/null &
  simulate "$class" off- "$off" 127.0.0.3 --duration "$duration" --poll-interval 3s "${fail[@]}" >/dev/null &
done
wait_status=0
for job in $(jobs -p); do
  case " ${pids[*]} " in *" $job "*) continue ;; esac
  wait "$job" || wait_status=$?
done
ran=$(( $(date +%s) - start ))
sleep 5 # one more scrape and rule evaluation

rollouts=$("$bin/ota" rollout status --server "$url")
python3 - "$out" "http://127.0.0.1:$port" "$per_class" "$duration" "$enrolled" "$ran" "$rollouts" <<'PY'
import json, sys, urllib.parse, urllib.request
out, prom, per_class, duration, enrolled, ran, rollouts = sys.argv[1:]
def q(expr):
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    data = json.load(urllib.request.urlopen(url))["data"]["result"]
    return {r["metric"].get("class", ""): float(r["value"][1]) for r in data}
numbers = {
    "devices": q("ota_class_devices"),
    "update success rate": q("ota_update_success_ratio"),
    "share on baseline": q("ota_devices_on_baseline / ota_class_devices"),
    "configuration-drifted devices": q("ota_devices_config_drifted"),
    "reachable through approved paths": q('ota_devices_reachability{path="approved"}'),
    "reachable only through unapproved paths": q('ota_devices_reachability{path="unapproved"}'),
    "unreachable": q('ota_devices_reachability{path="unreachable"}'),
    "rollout halted": q('ota_rollout_state{state="halted"}'),
    "rollout completed": q('ota_rollout_state{state="completed"}'),
    "open wave %": q("ota_rollout_wave_percent"),
}
alerts = json.load(urllib.request.urlopen(f"{prom}/api/v1/alerts"))["data"]["alerts"]
firing = sorted({(a["labels"]["alertname"], a["labels"].get("class", "")) for a in alerts if a["state"] == "firing"})
classes = sorted(numbers["devices"])
fmt = lambda k, v: f"{v:.3f}" if k in ("update success rate", "share on baseline") else f"{v:.0f}"
lines = ["# Fleet rollout simulation", "",
         f"Command: `bench/fleet-rollout.sh` (PER_CLASS={per_class}, DURATION={duration}); enrolment and first check-ins took {enrolled} s, the rollout phase {ran} s.",
         "Numbers are PromQL answers of a real Prometheus that scraped the server every 2 s.", "",
         "| number | " + " | ".join(classes) + " |", "| --- |" + " ---: |" * len(classes)]
for key, values in numbers.items():
    lines.append(f"| {key} | " + " | ".join(fmt(key, values.get(c, 0.0)) for c in classes) + " |")
lines += ["", "Alerts firing: " + (", ".join(f"{n} ({c})" for n, c in firing) or "none"), "",
          "`ota rollout status`:", "", "```", rollouts.strip(), "```", ""]
open(out, "w").write("\n".join(lines))
print("\n".join(lines))
PY
exit "$wait_status"

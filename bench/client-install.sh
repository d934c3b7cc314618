#!/usr/bin/env bash
# Measures the device agent installing one release end to end (TUF refresh, streaming
# download into slot B, verify, switch, simulated reboot, health check, commit), for
# several image sizes, with farm-bench: wall time and peak resident memory of the largest
# process (the agent), median of N runs. Then the agent's resident memory while idle.
#
#   cargo build --release --workspace && bench/client-install.sh [SIZES_MIB...]
#
# Needs farm-bench on PATH. Results: bench/results/client-install.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN_DIR:-target/release}
runs=${RUNS:-5}
sizes=("$@")
((${#sizes[@]})) || sizes=(32 256)

work=$(mktemp -d /tmp/ota-bench-XXXXXX)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/keys"
for key in snapshot timestamp targets; do install -m 600 "keys-example/$key.pem" "$work/keys/"; done
token=$("$bin/update-server" admin-token create --data-dir "$work/data")
export OTA_ADMIN_TOKEN=$token
"$bin/update-server" serve --data-dir "$work/data" --listen 127.0.0.1:0 --poll-interval 1s \
  --root keys-example/root.json --snapshot-key "$work/keys/snapshot.pem" \
  --timestamp-key "$work/keys/timestamp.pem" >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q listening "$work/server.out" && break; sleep 0.1; done
url=$(sed -n 's/^update-server listening on //p' "$work/server.out")

mkdir -p "$work/repo/metadata"
cp keys-example/root.json "$work/repo/root.json"
cp keys-example/root.json "$work/repo/metadata/1.root.json"

for size in "${sizes[@]}"; do
  class="bench-$size"
  dev="$work/dev-$size"
  mkdir -p "$dev/boot" "$dev/state"
  head -c "$((size << 20))" /dev/urandom >"$dev/factory.img"
  head -c "$((size << 20))" /dev/urandom >"$dev/new.img"
  "$bin/ota" release add "$dev/factory.img" --repo "$work/repo" --key "$work/keys/targets.pem" \
    --version 1.0.0 --class "$class" --hardware bench-board >/dev/null
  "$bin/ota" release add "$dev/new.img" --repo "$work/repo" --key "$work/keys/targets.pem" \
    --version 2.0.0 --class "$class" --hardware bench-board >/dev/null
  "$bin/ota" publish --repo "$work/repo" --server "$url" >/dev/null 2>&1
  "$bin/ota" device add "dev-$size" --class "$class" --server "$url" 2>/dev/null >"$dev/credential"
  cp keys-example/root.json "$dev/root.json"
  cat >"$dev/client.toml" <<TOML
[device]
id = "dev-$size"
class = "$class"
hardware_id = "bench-board"
credential_file = "credential"
[server]
url = "$url"
poll_interval = "1s"
[trust]
root = "root.json"
metadata_dir = "state/metadata"
[state]
dir = "state"
[firmware]
version = "1.0.0"
[slots]
a = "slot-a.img"
b = "slot-b.img"
[bootloader]
backend = "simulated"
dir = "boot"
[reboot]
command = ["touch", "boot/reboot-requested"]
[health_check]
commands = [["true"]]
TOML
  # Each run starts from the factory state: slot A = 1.0.0, empty slot B, no agent state.
  cat >"$dev/run.sh" <<SH
#!/bin/sh
set -e
cd "$dev"
cp factory.img slot-a.img && : >slot-b.img && rm -rf state/* boot/*
printf 'boot_slot=A\nupgrade_available=0\nbootcount=0\nbootlimit=1\n' >boot/env
exec "$PWD/$bin/update-client" simulate --config client.toml --until-idle
SH
  chmod +x "$dev/run.sh"
  echo "## install of a $size MiB image (farm-bench -n $runs)"
  farm-bench -n "$runs" --timeout 900 -- "$dev/run.sh"
  # farm-bench cannot read a peak below its own (~11 MiB): GNU time reads the true one.
  /usr/bin/time -f "peak resident (GNU time, largest process of the run): %M KiB" "$dev/run.sh" 2>&1 | grep "^peak"
  echo
done

# Idle: the agent after its update, polling every second with nothing to do.
dev="$work/dev-${sizes[0]}"
(cd "$dev" && exec "$OLDPWD/$bin/update-client" run --config client.toml 2>/dev/null) &
agent=$!
sleep 10
echo "## idle agent after 10 s of 1 s polls: $(grep VmRSS /proc/$agent/status | awk '{printf "%.1f MiB", $2/1024}') resident ($(grep VmHWM /proc/$agent/status | awk '{printf "%.1f MiB", $2/1024}') peak)"
kill "$agent"

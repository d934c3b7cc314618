#!/usr/bin/env bash
# Measures the device agent installing one release end to end (TUF refresh, streaming
# download into slot B, verify, switch, simulated reboot, health check, commit), for
# several image sizes, with farm-bench: wall time and peak resident memory of the largest
# process (the agent), median of N runs. Then the same for images of FORM_SIZES_MIB
# ("512") installed by delta (base and result sharing most blocks: the delta is applied
# from slot A into slot B) and by their zstd form. Then the agent's resident memory while
# idle.
#
#   cargo build --release --workspace && FORM_SIZES_MIB="128 512" bench/client-install.sh [SIZES_MIB...]
#
# Needs farm-bench and python3 on PATH. Results: bench/results/client-install.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${BIN_DIR:-target/release}")
runs=${RUNS:-5}
sizes=("$@")
((${#sizes[@]})) || sizes=(32 256)
read -ra form_sizes <<<"${FORM_SIZES_MIB:-512}"

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

# make_device DIR ID CLASS FACTORY_IMAGE VERSION: a simulated device whose DIR/run.sh
# installs its class's newest release (by the best form: [payload] defaults) from the
# factory state.
make_device() {
  local dev=$1 id=$2 class=$3 factory=$4 version=$5
  mkdir -p "$dev/boot" "$dev/state"
  [[ $factory == "$dev/factory.img" ]] || ln -f "$factory" "$dev/factory.img"
  cp keys-example/root.json "$dev/root.json"
  cat >"$dev/client.toml" <<TOML
[device]
id = "$id"
class = "$class"
hardware_id = "bench-board"
[server]
url = "$url"
poll_interval = "1s"
allow_plain_http = true
[trust]
root = "root.json"
metadata_dir = "state/metadata"
[state]
dir = "state"
[firmware]
version = "$version"
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
  # The device makes its key; the operator registers the public key.
  local public_key
  public_key=$("$bin/update-client" identity --config "$dev/client.toml" | cut -d' ' -f2)
  "$bin/ota" device add "$id" --class "$class" --public-key "$public_key" --server "$url" 2>/dev/null
  # Each run starts from the factory state: slot A = the factory image, empty slot B, no
  # agent state.
  cat >"$dev/run.sh" <<SH
#!/bin/sh
set -e
cd "$dev"
cp factory.img slot-a.img && : >slot-b.img && rm -rf state/* boot/*
printf 'boot_slot=A\nupgrade_available=0\nbootcount=0\nbootlimit=1\n' >boot/env
exec "$bin/update-client" simulate --config client.toml --until-idle
SH
  chmod +x "$dev/run.sh"
}

# measure DIR TITLE: farm-bench medians, GNU time's peak, and the payload the agent used.
measure() {
  local dev=$1 title=$2
  echo "## $title (farm-bench -n $runs)"
  farm-bench -n "$runs" --timeout 3000 -- "$dev/run.sh"
  # farm-bench cannot read a peak below its own (~11 MiB): GNU time reads the true one.
  /usr/bin/time -f "peak resident (GNU time, largest process of the run): %M KiB" "$dev/run.sh" 2>&1 | grep "^peak"
  python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["payload"]; print("payload:", p["kind"], p["target_name"], p["length"], "bytes:", p["reason"])' "$dev/state/journal.json"
  echo
}

release() { # release IMAGE VERSION CLASS [ota release add flags...]
  local image=$1 version=$2 class=$3
  shift 3
  "$bin/ota" release add "$image" --repo "$work/repo" --key "$work/keys/targets.pem" \
    --version "$version" --class "$class" --hardware bench-board "$@"
}

# Raw installs: incompressible images, no other forms published.
for size in "${sizes[@]}"; do
  class="bench-$size"
  dev="$work/dev-$size"
  mkdir -p "$dev"
  head -c "$((size << 20))" /dev/urandom >"$dev/factory.img"
  head -c "$((size << 20))" /dev/urandom >"$dev/new.img"
  release "$dev/factory.img" 1.0.0 "$class" --no-zstd --no-deltas >/dev/null
  release "$dev/new.img" 2.0.0 "$class" --no-zstd --no-deltas >/dev/null
  "$bin/ota" publish --repo "$work/repo" --server "$url" >/dev/null 2>&1
  make_device "$dev" "dev-$size" "$class" "$dev/factory.img" 1.0.0
  measure "$dev" "install of a $size MiB image"
done

# Delta and zstd installs of a firmware-like image: 64 KiB blocks, half random, a quarter
# zeros, a quarter text; the successor changes 1% of the blocks, inserts one, drops one.
# Slot A of the zstd device holds an image no delta starts from.
for form_size in "${form_sizes[@]}"; do
  forms="$work/forms-$form_size"
  mkdir -p "$forms"
  python3 - "$forms" "$form_size" <<'PY'
import os, random, sys
out, mib = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
blocks = mib * 16
def block(i):
    kind = i % 4
    if kind < 2:
        return os.urandom(65536)
    if kind == 2:
        return bytes(65536)
    return ((b"firmware string table entry %08d\n" % i) * 2048)[:65536]
with open(f"{out}/base.img", "wb") as base, open(f"{out}/next.img", "wb") as nxt:
    for i in range(blocks):
        b = block(i)
        base.write(b)
        if i == blocks // 3:
            nxt.write(os.urandom(65536))
        if i == 2 * blocks // 3:
            continue
        if rng.random() < 0.01:
            b = bytearray(b)
            at = rng.randrange(0, 65536 - 512)
            b[at:at + 512] = os.urandom(512)
        nxt.write(b)
with open(f"{out}/other.img", "wb") as other:
    for i in range(blocks):
        other.write(os.urandom(65536) if i % 4 < 2 else bytes(65536))
PY
  class="bench-forms-$form_size"
  echo "## making the $form_size MiB release's forms"
  release "$forms/base.img" 1.0.0 "$class" --zstd-level 6 | tail -n +3
  /usr/bin/time -f "ota release add 2.0.0: %e s wall, %M KiB peak" \
    "$bin/ota" release add "$forms/next.img" --repo "$work/repo" --key "$work/keys/targets.pem" \
    --version 2.0.0 --class "$class" --hardware bench-board --zstd-level 6 | tail -n +3
  "$bin/ota" publish --repo "$work/repo" --server "$url" >/dev/null 2>&1
  echo
  make_device "$work/dev-delta-$form_size" "dev-delta-$form_size" "$class" "$forms/base.img" 1.0.0
  measure "$work/dev-delta-$form_size" "install of a $form_size MiB image by delta (base: slot A, 1.0.0)"
  make_device "$work/dev-zstd-$form_size" "dev-zstd-$form_size" "$class" "$forms/other.img" 0.9.0
  measure "$work/dev-zstd-$form_size" "install of the $form_size MiB image by its zstd form (no delta base)"
  rm -rf "$forms" "$work"/dev-*-"$form_size"/{factory,slot-a,slot-b}.img
done

# Idle: the agent after its update, polling every second with nothing to do.
dev="$work/dev-${sizes[0]}"
(cd "$dev" && exec "$bin/update-client" run --config client.toml 2>/dev/null) &
agent=$!
sleep 10
echo "## idle agent after 10 s of 1 s polls: $(grep VmRSS /proc/$agent/status | awk '{printf "%.1f MiB", $2/1024}') resident ($(grep VmHWM /proc/$agent/status | awk '{printf "%.1f MiB", $2/1024}') peak)"
kill "$agent"

#!/usr/bin/env bash
# Benchmark: perfdhcp -6 against dhcpv6-failover-server (durable redb store) and ISC Kea
# (kea-dhcp6-server, multi-threaded, memfile) on the same namespace topology, interleaved, at
# rising rates, for IA_NA and IA_NA+IA_PD.
#
#   sudo scripts/bench-server.sh                 # default rates, 10 s per run
#   RATES="5000 10000" DURATION=5 sudo scripts/bench-server.sh
#
# Prints one row per run (leases/s, drops, latency, CPU of each process from /proc and time(1))
# and a summary: the best leases/s each server sustained with under 1% drops, and our/Kea ratio.
# Every run is bounded (perfdhcp -p DURATION, timeouts); the namespaces and every process the
# script started are removed on exit.
set -euo pipefail

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
RATES="${RATES:-4000 8000 12000 16000 20000 25000 30000}"
DURATION="${DURATION:-10}"
MODES="${MODES:-na napd}"
SERVERS="${SERVERS:-ours kea}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/dhcpv6-failover-server"
KEA="$(command -v kea-dhcp6 || true)"
[[ -x /usr/sbin/kea-dhcp6 ]] && KEA=/usr/sbin/kea-dhcp6

[[ "$(id -u)" == 0 ]] || { echo "bench-server.sh needs root (network namespaces)" >&2; exit 1; }
command -v perfdhcp >/dev/null || { echo "perfdhcp missing: apt-get install kea-admin" >&2; exit 1; }
[[ -n "$KEA" ]] || { echo "kea-dhcp6 missing: apt-get install kea-dhcp6-server (or SERVERS=ours)" >&2; [[ "$SERVERS" == *kea* ]] && exit 1; }

echo "building the server (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p dhcpv6-failover-server)

ID=$$
NS_S="bench-s-$ID"; NS_C="bench-c-$ID"; IF_S="bs$ID"; IF_C="bc$ID"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-server.XXXXXX")"
SERVER_PID=""

cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
    for ns in "$NS_C" "$NS_S"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

for ns in "$NS_S" "$NS_C"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
done
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C"
ip -n "$NS_S" link set "$IF_S" up
ip -n "$NS_C" link set "$IF_C" up
for _ in $(seq 50); do
    ip -n "$NS_S" -6 addr show dev "$IF_S" | grep -q fe80 && ip -n "$NS_C" -6 addr show dev "$IF_C" | grep -q fe80 && break
    sleep 0.1
done

cat > "$WORK/ours.toml" <<EOF
[server]
interfaces = ["$IF_S"]
queue_depth = 65536
[store]
path = "$WORK/ours/leases.redb"
durable = true
max_batch = 8192
[lifetimes]
t1_secs = 1000
t2_secs = 2000
preferred_secs = 3000
valid_secs = 4000
[[subnet]]
name = "bench"
interface = "$IF_S"
link = "2001:db8:1::/64"
addresses = ["2001:db8:1::/64"]
prefixes = [{ prefix = "2001:db8:8000::/33", delegated_len = 56 }]
EOF

cat > "$WORK/kea.json" <<EOF
{ "Dhcp6": {
    "interfaces-config": { "interfaces": [ "$IF_S" ] },
    "server-id": { "type": "EN", "enterprise-id": 2495, "identifier": "0102030405060708", "persist": false },
    "lease-database": { "type": "memfile", "persist": true, "name": "$WORK/kea/leases6.csv", "lfc-interval": 0 },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 256 },
    "renew-timer": 1000, "rebind-timer": 2000, "preferred-lifetime": 3000, "valid-lifetime": 4000,
    "subnet6": [ {
        "id": 1, "subnet": "2001:db8:1::/64", "interface": "$IF_S",
        "pools": [ { "pool": "2001:db8:1::/64" } ],
        "pd-pools": [ { "prefix": "2001:db8:8000::", "prefix-len": 33, "delegated-len": 56 } ]
    } ],
    "loggers": [ { "name": "kea-dhcp6", "output_options": [ { "output": "$WORK/kea/kea.log" } ], "severity": "WARN" } ]
} }
EOF

CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

start_server() {
    local which="$1"
    rm -rf "$WORK/ours" "$WORK/kea"; mkdir -p "$WORK/ours" "$WORK/kea"
    if [[ "$which" == ours ]]; then
        ip netns exec "$NS_S" "$BIN" run --config "$WORK/ours.toml" 2>"$WORK/ours/log" &
        SERVER_PID=$!
        for _ in $(seq 100); do grep -q listening "$WORK/ours/log" && break; sleep 0.05; done
    else
        KEA_PIDFILE_DIR="$WORK/kea" KEA_LOCKFILE_DIR="$WORK/kea" ip netns exec "$NS_S" "$KEA" -c "$WORK/kea.json" >"$WORK/kea/stdout" 2>&1 &
        SERVER_PID=$!
        sleep 2
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "$which did not start" >&2; cat "$WORK/$which"/* >&2; exit 1; }
}

stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# field VALUE from the n-th occurrence (1 = SOLICIT-ADVERTISE, 2 = REQUEST-REPLY)
pf() { grep -E "^$1" "$3" | sed -n "$2p" | awk -F': ' '{print $2}' | awk '{print $1}'; }

RESULTS="$WORK/results"
: > "$RESULTS"
printf '%-5s %-5s %7s %9s %8s %8s %9s %9s %8s %8s %10s\n' mode server offered leases/s sa-drop% rr-drop% rr-avg-ms rr-max-ms srv-cpu% pdh-cpu% srv-us/lease
for mode in $MODES; do
    e=address-only; [[ "$mode" == napd ]] && e=address-and-prefix
    for rate in $RATES; do
        for srv in $SERVERS; do
            start_server "$srv"
            before="$(cpu_ticks "$SERVER_PID")"
            out="$WORK/perfdhcp.out"
            # Distinct clients (-R), bounded run (-p), wait for late replies (-W, µs).
            ip netns exec "$NS_C" timeout $((DURATION + 30)) /usr/bin/time -f 'PDCPU %U %S' \
                perfdhcp -6 -l "$IF_C" -r "$rate" -p "$DURATION" -R 100000000 -e "$e" -W 1000000 >"$out" 2>&1 || true
            after="$(cpu_ticks "$SERVER_PID")"
            stop_server
            rr_recv="$(pf 'received packets' 2 "$out")"; rr_recv="${rr_recv:-0}"
            sa_ratio="$(pf 'drops ratio' 1 "$out")"; rr_ratio="$(pf 'drops ratio' 2 "$out")"
            rr_avg="$(pf 'avg delay' 2 "$out")"; rr_max="$(pf 'max delay' 2 "$out")"
            pd_cpu="$(awk '/^PDCPU/ {print $2 + $3}' "$out")"
            leases=$(( rr_recv / DURATION ))
            srv_cpu="$(awk -v a="$before" -v b="$after" -v t="$CLK_TCK" -v d="$DURATION" 'BEGIN {printf "%.0f", (b - a) / t / d * 100}')"
            pdh_cpu="$(awk -v c="${pd_cpu:-0}" -v d="$DURATION" 'BEGIN {printf "%.0f", c / d * 100}')"
            us_lease="$(awk -v a="$before" -v b="$after" -v t="$CLK_TCK" -v n="$rr_recv" 'BEGIN {if (n > 0) printf "%.1f", (b - a) / t / n * 1e6; else print "-"}')"
            printf '%-5s %-5s %7s %9s %8s %8s %9s %9s %8s %8s %10s\n' "$mode" "$srv" "$rate" "$leases" \
                "${sa_ratio:-?}" "${rr_ratio:-?}" "${rr_avg:-?}" "${rr_max:-?}" "$srv_cpu" "$pdh_cpu" "$us_lease" | tee -a "$RESULTS"
        done
    done
done

echo
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "best leases/s with under 1% drops (both exchanges):"
for mode in $MODES; do
    best_ours="$(awk -v m="$mode" '$1 == m && $2 == "ours" && ($5 + 0) < 1 && ($6 + 0) < 1 {if ($4 > b) b = $4} END {print b + 0}' "$RESULTS")"
    best_kea="$(awk -v m="$mode" '$1 == m && $2 == "kea" && ($5 + 0) < 1 && ($6 + 0) < 1 {if ($4 > b) b = $4} END {print b + 0}' "$RESULTS")"
    ratio="$(awk -v a="$best_ours" -v b="$best_kea" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}')"
    printf '%-5s ours %6s   kea %6s   ours/kea %s\n' "$mode" "$best_ours" "$best_kea" "$ratio"
done

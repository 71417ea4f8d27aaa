#!/usr/bin/env bash
# Benchmark: perfdhcp -6 against dhcpv6-failover-server alone (`ours`) and as an RFC 8156 pair
# (`pair`: primary answering, BNDUPDs to the secondary over TLS), and against ISC Kea 2.2 alone
# (`kea`, multi-threaded, memfile) and with its HA hook in hot-standby mode (`kea-ha`, each
# Reply waits for the standby's acknowledgement over HTTP), all on one namespace topology,
# interleaved run by run at every rate, for IA_NA (`na`) and IA_NA+IA_PD (`napd`).
#
#   sudo scripts/bench-server.sh
#   RATES="4000 5000 6000 7000 8000 9000 10000" DURATION=10 sudo scripts/bench-server.sh
#   SERVERS="ours kea" MODES=na sudo scripts/bench-server.sh
#   KEEP_LOGS=DIR   keep every run's server logs and perfdhcp output under DIR
#   SERVERS="ours ours-b kea" BIN_B=PATH   also run a second build of the server (`ours-b`, e.g.
#                   the binary before a change) interleaved with the others: an A/B comparison
#   BUILD=head      build exactly the last commit (a `git archive HEAD` export), not the working tree
#   BUILD=0 ...     use the release binary already in $CARGO_TARGET_DIR (default: build it first)
#   CLIENT_RCVBUF=BYTES  net.core.rmem_default (and rmem_max if lower) set in the root namespace
#                   for the whole run, restored on exit (default 8388608; 0 = leave the system's
#                   value). perfdhcp sets no SO_RCVBUF, so with the system default (212,992 bytes,
#                   ~256 Replies) its socket overflows when a group commit releases a burst of
#                   Replies. The sysctl is global (namespaces read the root's value): every
#                   socket created anywhere during the run without its own SO_RCVBUF gets it,
#                   perfdhcp's in every run (ours, pair, kea, kea-ha alike) and Kea's server
#                   sockets; ours sets its own (4 MiB requested, 8 MiB granted) either way.
#                   Overlapping runs of this script share it; the last one out restores it.
#   REFINE=N        after the ladder, up to N bisection steps per mode and server between the
#                   highest loss-free rate (0 if none) and the next lossy one above it (default 3;
#                   0 = off), stopping when they are REFINE_MIN offered/s apart or closer (default
#                   250); each step is one more run per server, interleaved like the ladder
#   SPLIT=1         two machines emulated on this one's first two CPUs, as a pair is deployed: CPU 0
#                   is the client-facing machine (perfdhcp with the server alone, the primary or
#                   Kea HA's primary), CPU 1 the partner's (the secondary or Kea's standby) and
#                   the script's tcpdump; every process is pinned with taskset. Alone and pair then
#                   get the same CPU on the client side, and the ratios show what failover costs
#                   the client-facing server, not what a second server costs a shared CPU. The
#                   disk, the kernel and the memory bus stay shared (default 0: nothing pinned)
#   SPLIT=2         as SPLIT=1, but the server alone, the primary or Kea HA's primary has CPU 0 to
#                   itself, and perfdhcp joins the partner side on CPU 1. The server that answers
#                   the clients then runs alone on its core in every run, so the latency ratios
#                   show what failover adds to it; the secondary takes its CPU from perfdhcp
#                   instead (whose pace shows in sent/s). The median is timed by the kernel at
#                   the client interface, so perfdhcp's own delays do not enter it
#   SECONDARY_DURABLE=0  a diagnostic only: the secondary's store skips fsync (`durable = false`).
#                   A secondary must make an update durable before its BNDREPLY, so this is not
#                   a way to run; it separates what the partner's fsyncs on a disk shared with
#                   the primary cost the primary's Replies (two hosts share no disk). Default 1
#
# Topology: namespaces P (the standalone server, or the primary), S (the secondary / standby),
# C (perfdhcp) on one bridge in namespace W (multicast snooping off), and a partner link of its
# own between P and S (fd00:647::1 <-> fd00:647::2) that carries our TLS partner link and Kea's
# HA HTTP traffic. Nothing leaves the namespaces.
#
# Per run: leases/s (completed Request/Reply exchanges), drop ratios, the Reply latency
# (perfdhcp's avg and max; the median from a 1/16 sample of transactions, spread over every
# position of perfdhcp's send pattern (see the capture below), captured at the
# client interface, since perfdhcp 2.2 prints only min/avg/max/std-dev), the CPU of every
# process (servers from /proc/<pid>/stat, perfdhcp from time(1)), the 1-minute load average,
# and for the pairs the lease count of each side halfway through the run (with the primary's
# unacked window) and 1 s after it, and whether both tables are then equal; the receive-buffer
# drops, buffer size and peak queue of the server's and perfdhcp's UDP sockets (`ss -uam`,
# sampled every 0.25 s) and the busiest thread of each. Then summaries: the highest rate each
# server sustained with under 1% drops (with its CPU), where the first drops happened and which
# process was short of CPU there, ours/Kea, and pair/alone ratios. Every run is bounded
# (perfdhcp -p DURATION under timeout, bounded waits; REFINE bounds the extra runs); the
# namespaces and every process the script started are removed on exit, also on failure.
set -euo pipefail

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
RATES="${RATES:-4000 5000 6000 7000 8000 9000 10000 12000 16000}"
DURATION="${DURATION:-10}"
MODES="${MODES:-na napd}"
SERVERS="${SERVERS:-ours pair kea kea-ha}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/dhcpv6-failover-server"
KEA="$(command -v kea-dhcp6 || true)"
[[ -x /usr/sbin/kea-dhcp6 ]] && KEA=/usr/sbin/kea-dhcp6
CLIENT_RCVBUF="${CLIENT_RCVBUF:-8388608}"
REFINE="${REFINE:-3}"
REFINE_MIN="${REFINE_MIN:-250}"
SPLIT="${SPLIT:-0}"
SECONDARY_DURABLE="${SECONDARY_DURABLE:-1}"
HOOKS="${KEA_HOOKS:-$(dpkg -L kea-dhcp6-server kea-common 2>/dev/null | grep -m1 '/libdhcp_ha.so$' | xargs -r dirname)}"

die() { echo "bench-server.sh: $*" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || die "needs root (network namespaces)"
[[ "$CLIENT_RCVBUF" =~ ^[0-9]+$ ]] || die "CLIENT_RCVBUF=$CLIENT_RCVBUF: expected a byte count (0 = leave the system's value)"
[[ "$SECONDARY_DURABLE" =~ ^[01]$ ]] || die "SECONDARY_DURABLE=$SECONDARY_DURABLE: expected 1 (durable, the default) or 0 (diagnostic: the secondary skips fsync)"
[[ "$REFINE" =~ ^[0-9]+$ && "$REFINE_MIN" =~ ^[0-9]+$ ]] || die "REFINE and REFINE_MIN must be whole numbers"
for t in perfdhcp tcpdump jq python3; do command -v "$t" >/dev/null || die "$t missing (scripts/test installs kea-admin, tcpdump)"; done
# ON_CLIENT_SIDE / ON_PARTNER_SIDE: the command prefix that pins a process to its machine (SPLIT=1
# or 2); ON_LOADGEN: perfdhcp's (the client side with SPLIT=1, the partner side with SPLIT=2).
ON_CLIENT_SIDE=(); ON_PARTNER_SIDE=(); ON_LOADGEN=()
case "$SPLIT" in
0) ;;
1|2)
    command -v taskset >/dev/null || die "SPLIT=$SPLIT needs taskset (util-linux)"
    (($(nproc) >= 2)) || die "SPLIT=$SPLIT needs two CPUs, this machine has $(nproc)"
    ON_CLIENT_SIDE=(taskset -c 0); ON_PARTNER_SIDE=(taskset -c 1)
    if [[ "$SPLIT" == 1 ]]; then ON_LOADGEN=("${ON_CLIENT_SIDE[@]}"); else ON_LOADGEN=("${ON_PARTNER_SIDE[@]}"); fi ;;
*) die "SPLIT=$SPLIT: expected 0, 1 or 2" ;;
esac
if [[ " $SERVERS " == *" kea"* ]]; then
    [[ -n "$KEA" ]] || die "kea-dhcp6 missing: apt-get install kea-dhcp6-server (or SERVERS=\"ours pair\")"
fi
if [[ " $SERVERS " == *" kea-ha "* ]]; then
    [[ -f "$HOOKS/libdhcp_ha.so" && -f "$HOOKS/libdhcp_lease_cmds.so" ]] || die "Kea hooks libdhcp_ha.so / libdhcp_lease_cmds.so not found (KEA_HOOKS=DIR)"
fi

BUILT="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- crates examples/failover-server/src || echo ' plus uncommitted changes')"
case "${BUILD:-1}" in
1)
    echo "building the server (release)..." >&2
    (cd "$ROOT" && cargo build --release -q -p dhcpv6-failover-server) ;;
head)
    # Exactly the last commit, whatever is uncommitted in a shared checkout: an export kept in
    # $TARGET_DIR/bench-src where only the files that changed are rewritten (cargo then
    # rebuilds only the crates that changed).
    SRC="$TARGET_DIR/bench-src"
    EXPORT="$(mktemp -d "${TMPDIR:-/tmp}/bench-export.XXXXXX")"
    git -C "$ROOT" archive HEAD | tar -x -C "$EXPORT"
    python3 -c '
import filecmp, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
for root, _, files in os.walk(src):
    rel = os.path.relpath(root, src)
    os.makedirs(os.path.join(dst, rel), exist_ok=True)
    for f in files:
        a, b = os.path.join(root, f), os.path.join(dst, rel, f)
        if not os.path.exists(b) or not filecmp.cmp(a, b, shallow=False):
            shutil.copyfile(a, b)
' "$EXPORT" "$SRC"
    rm -rf "$EXPORT"
    echo "building the server (release) from an export of HEAD..." >&2
    # A target directory of its own: cargo identifies the export's packages with the checkout's
    # (same workspace-relative paths), so built into the checkout's target directory, the
    # export's fingerprints made later builds of the checkout look fresh and keep the binary
    # of the export, whatever was edited since.
    (cd "$SRC" && CARGO_TARGET_DIR="$TARGET_DIR/bench-head" cargo build --release -q -p dhcpv6-failover-server) || die "build failed"
    BIN="$TARGET_DIR/bench-head/release/dhcpv6-failover-server"
    BUILT="$(git -C "$ROOT" rev-parse --short HEAD)" ;;
0) BUILT="a binary built earlier" ;;
esac
[[ -x "$BIN" ]] || die "$BIN missing (build it, or BUILD=1)"
echo "server: $BUILT, $(date -u '+%Y-%m-%d %H:%M UTC'), load at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
[[ "$SPLIT" == 1 ]] && echo "SPLIT=1: client side (perfdhcp; the server alone, the primary, Kea HA's primary) pinned to CPU 0, partner side (the secondary, Kea's standby; tcpdump) to CPU 1"
[[ "$SPLIT" == 2 ]] && echo "SPLIT=2: the server alone, the primary or Kea HA's primary pinned to CPU 0, everything else (perfdhcp, the secondary, Kea's standby, tcpdump) to CPU 1"

ID=$$
NS_P="bench-p-$ID"; NS_S="bench-s-$ID"; NS_C="bench-c-$ID"; NS_W="bench-w-$ID"
IF_P="bp$ID"; IF_S="bs$ID"; IF_C="bc$ID"; BR="bw$ID"; LK_P="kp$ID"; LK_S="ks$ID"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-server.XXXXXX")"
PIDS=()
# net.core.rmem_default / rmem_max are global: every namespace reads the root namespace's value
# when a socket is created (sysctl inside a namespace fails with EINVAL). Runs of this script
# that overlap share them: the first one records the values as found in $RB_DIR/orig, each
# registers itself there ($RB_DIR/PID), and the last one to leave restores them.
RB_DIR=/run/bench-server-rcvbuf
RB_REGISTERED=""
exec 9>"$RB_DIR.lock"
rb_prune() { # under the lock: forget runs that are gone
    local f
    for f in "$RB_DIR"/[0-9]*; do
        [[ -e "$f" ]] || continue
        kill -0 "${f##*/}" 2>/dev/null || rm -f "$f"
    done
}
rb_others() { compgen -G "$RB_DIR/[0-9]*" >/dev/null; }
rb_release() {
    [[ -n "$RB_REGISTERED" ]] || return 0
    flock 9
    rm -f "$RB_DIR/$$"; rb_prune
    if rb_others; then
        echo "receive buffer: left at $(sysctl -n net.core.rmem_default) for another run of this script still running" >&2
    else
        local d m
        read -r d m < "$RB_DIR/orig"
        sysctl -qw net.core.rmem_default="$d" net.core.rmem_max="$m" || true
        rm -rf "$RB_DIR"
        echo "receive buffer restored: net.core.rmem_default $(sysctl -n net.core.rmem_default), rmem_max $(sysctl -n net.core.rmem_max)" >&2
    fi
    flock -u 9
}

cleanup() {
    local p ns
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for ns in "$NS_C" "$NS_P" "$NS_S" "$NS_W"; do
        # Every process in our own namespaces was started by this script.
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
    rb_release
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- perfdhcp's receive buffer ------------------------------------------------------------------
flock 9
rb_prune
# The values as found before any run of this script changed them: recorded by a run still
# going, or by one killed before it could restore them (SIGKILL), else the current ones.
if [[ -s "$RB_DIR/orig" ]]; then
    read -r RMEM_DEFAULT0 RMEM_MAX0 < "$RB_DIR/orig"
else
    RMEM_DEFAULT0="$(sysctl -n net.core.rmem_default)"; RMEM_MAX0="$(sysctl -n net.core.rmem_max)"
fi
if ((CLIENT_RCVBUF > 0)); then
    if [[ ! -s "$RB_DIR/orig" ]]; then
        mkdir -p "$RB_DIR"
        echo "$RMEM_DEFAULT0 $RMEM_MAX0" > "$RB_DIR/orig.tmp" && mv "$RB_DIR/orig.tmp" "$RB_DIR/orig"
    fi
    : > "$RB_DIR/$$"; RB_REGISTERED=1
    (($(sysctl -n net.core.rmem_max) >= CLIENT_RCVBUF)) || sysctl -qw net.core.rmem_max="$CLIENT_RCVBUF"
    sysctl -qw net.core.rmem_default="$CLIENT_RCVBUF"
    EXPECT_RB="$CLIENT_RCVBUF"
    echo "receive buffer: net.core.rmem_default $CLIENT_RCVBUF for this run (was $RMEM_DEFAULT0; rmem_max $(sysctl -n net.core.rmem_max), was $RMEM_MAX0; both restored on exit)"
else
    EXPECT_RB="$(sysctl -n net.core.rmem_default)"
    echo "receive buffer: net.core.rmem_default left at the system's $EXPECT_RB (CLIENT_RCVBUF=0; rmem_max $(sysctl -n net.core.rmem_max))"
    if rb_others; then
        echo "  (another run of this script with CLIENT_RCVBUF set is running: the values may change under this run; see the warnings)"
    elif [[ -s "$RB_DIR/orig" ]]; then
        echo "  (a run killed before it could restore them left these values; before it: $RMEM_DEFAULT0 / $RMEM_MAX0, restored by the next run with CLIENT_RCVBUF set)"
    fi
fi
flock -u 9
echo "  it is the receive buffer of perfdhcp's socket in every run (ours, pair, kea, kea-ha alike: the same perfdhcp) and of"
echo "  Kea's server sockets (Kea sets none); ours sets its own either way (SO_RCVBUF 4 MiB, doubled by the kernel, capped by rmem_max). Checked per run: c-rb / p-rb"

# --- topology ---------------------------------------------------------------------------------
for ns in "$NS_P" "$NS_S" "$NS_C" "$NS_W"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
done
ip -n "$NS_W" link add "$BR" type bridge mcast_snooping 0
ip -n "$NS_W" link set "$BR" up
for pair in "$NS_P:$IF_P" "$NS_S:$IF_S" "$NS_C:$IF_C"; do
    ns="${pair%%:*}"; ifn="${pair##*:}"
    ip link add "$ifn" netns "$ns" type veth peer name "${ifn}w" netns "$NS_W"
    ip -n "$NS_W" link set "${ifn}w" master "$BR"
    ip -n "$NS_W" link set "${ifn}w" up
    ip -n "$ns" link set "$ifn" up
done
ip link add "$LK_P" netns "$NS_P" type veth peer name "$LK_S" netns "$NS_S"
ip -n "$NS_P" addr add fd00:647::1/64 dev "$LK_P" nodad
ip -n "$NS_S" addr add fd00:647::2/64 dev "$LK_S" nodad
ip -n "$NS_P" link set "$LK_P" up
ip -n "$NS_S" link set "$LK_S" up
for _ in $(seq 100); do
    ip -n "$NS_P" -6 addr show dev "$IF_P" | grep -q fe80 &&
        ip -n "$NS_S" -6 addr show dev "$IF_S" | grep -q fe80 &&
        ip -n "$NS_C" -6 addr show dev "$IF_C" | grep -q fe80 && break
    sleep 0.1
done

# --- configurations -------------------------------------------------------------------------
"$BIN" gen-cert --dir "$WORK" --name primary >"$WORK/primary.fp"
"$BIN" gen-cert --dir "$WORK" --name secondary >"$WORK/secondary.fp"
fp() { grep -m1 '^sha256:' "$WORK/$1.fp"; }

# ours_config NAME INTERFACE [FAILOVER-TABLES]
ours_config() {
    cat > "$WORK/$1.toml" <<EOF
[server]
interfaces = ["$2"]
queue_depth = 65536
[store]
path = "$WORK/run/$1.redb"
durable = true
max_batch = 8192
[lifetimes]
t1_secs = 1000
t2_secs = 2000
preferred_secs = 3000
valid_secs = 4000
[control]
socket = "$WORK/run/$1.sock"
[[subnet]]
name = "bench"
interface = "$2"
link = "2001:db8:1::/64"
addresses = ["2001:db8:1::/64"]
prefixes = [{ prefix = "2001:db8:8000::/33", delegated_len = 56 }]
${3:-}
EOF
}
failover() { # ROLE PARTNER LISTEN-LINE OWN-NAME PINNED-NAME
    printf '[[failover]]\nname = "bench"\nrole = "%s"\npartner = "%s"\n%s\nsubnets = ["bench"]\nmclt_secs = 3600\nstartup_wait_secs = 1\nconnect_retry_secs = 1\n[failover.tls]\ncert = "%s/%s.crt"\nkey = "%s/%s.key"\npartner_fingerprints = ["%s"]\n' \
        "$1" "$2" "$3" "$WORK" "$4" "$WORK" "$4" "$(fp "$5")"
}
ours_config alone "$IF_P"
ours_config primary "$IF_P" "$(failover primary '[fd00:647::2]:647' '' primary secondary)"
ours_config secondary "$IF_S" "$(failover secondary 'fd00:647::1' 'listen = "[fd00:647::2]:647"' secondary primary)"
if [[ "$SECONDARY_DURABLE" == 0 ]]; then
    sed -i 's/^durable = true$/durable = false/' "$WORK/secondary.toml"
    echo "SECONDARY_DURABLE=0: the secondary's store skips fsync (a diagnostic, not a way to run a secondary)"
fi

# kea_config NAME INTERFACE SERVER-ID-BYTE [HA-THIS-SERVER-NAME]
kea_config() {
    local hooks=""
    if [[ -n "${4:-}" ]]; then
        hooks=$(cat <<EOF
    "hooks-libraries": [
        { "library": "$HOOKS/libdhcp_lease_cmds.so" },
        { "library": "$HOOKS/libdhcp_ha.so", "parameters": { "high-availability": [ {
            "this-server-name": "$4",
            "mode": "hot-standby",
            "heartbeat-delay": 1000, "max-response-delay": 5000, "max-ack-delay": 5000, "max-unacked-clients": 5,
            "multi-threading": { "enable-multi-threading": true, "http-dedicated-listener": true,
                                 "http-listener-threads": 2, "http-client-threads": 2 },
            "peers": [
                { "name": "server1", "url": "http://[fd00:647::1]:8000/", "role": "primary", "auto-failover": true },
                { "name": "server2", "url": "http://[fd00:647::2]:8000/", "role": "standby", "auto-failover": true }
            ] } ] } }
    ],
EOF
)
    fi
    cat > "$WORK/$1.json" <<EOF
{ "Dhcp6": {
    "interfaces-config": { "interfaces": [ "$2" ] },
    "server-id": { "type": "EN", "enterprise-id": 2495, "identifier": "01020304050607$3", "persist": false },
    "lease-database": { "type": "memfile", "persist": true, "name": "$WORK/run/$1.csv", "lfc-interval": 0 },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 256 },
    "renew-timer": 1000, "rebind-timer": 2000, "preferred-lifetime": 3000, "valid-lifetime": 4000,
$hooks
    "subnet6": [ {
        "id": 1, "subnet": "2001:db8:1::/64", "interface": "$2",
        "pools": [ { "pool": "2001:db8:1::/64" } ],
        "pd-pools": [ { "prefix": "2001:db8:8000::", "prefix-len": 33, "delegated-len": 56 } ]
    } ],
    "loggers": [
        { "name": "kea-dhcp6", "output_options": [ { "output": "$WORK/run/$1.log" } ], "severity": "WARN" },
        { "name": "kea-dhcp6.ha-hooks", "output_options": [ { "output": "$WORK/run/$1.log" } ], "severity": "INFO" }
    ]
} }
EOF
}
kea_config kea "$IF_P" 01
kea_config kea-primary "$IF_P" 02 server1
kea_config kea-standby "$IF_S" 03 server2

# --- processes --------------------------------------------------------------------------------
P_PID=""; S_PID=""

# Every server and perfdhcp run in a session of their own (setsid): with the kernel's autogroup
# scheduling (/proc/sys/kernel/sched_autogroup_enabled = 1) a session shares the CPU equally with
# every other busy session, whatever the nice values, so on a machine loaded by other sessions a
# server and perfdhcp sharing this script's session would split one session's share between them
# (measured: the server's event loop waited 2.9 s of 4 s on the run queue). Ours and Kea are
# started the same way. setsid does not fork here (a background job of a script without job
# control is no process group leader), so the pid stays that of the process.
# spawn NS LOGFILE CMD... : background process in a namespace; its pid in SPAWNED.
spawn() {
    local ns="$1" log="$2"; shift 2
    KEA_PIDFILE_DIR="$WORK/run" KEA_LOCKFILE_DIR="$WORK/run" setsid ip netns exec "$ns" "$@" >>"$log" 2>&1 &
    SPAWNED=$!
    PIDS+=("$SPAWNED")
}

ours_state() { "$BIN" ctl --json --socket "$WORK/run/$1.sock" status 2>/dev/null | jq -r '.relationships[0].state // "none"' 2>/dev/null || echo down; }

# wait_until SECONDS WHAT CMD...: polls CMD every 0.1 s; on timeout shows the logs and fails.
wait_until() {
    local secs="$1" what="$2"; shift 2
    local i
    for ((i = 0; i < secs * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    echo "$what: not within $secs s; logs:" >&2
    tail -n 20 "$WORK"/run/*.log >&2 || true
    return 1
}
listening() { grep -q listening "$WORK/run/$1.log" 2>/dev/null; }
both_normal() { [[ "$(ours_state primary)" == Normal && "$(ours_state secondary)" == Normal ]]; }
udp547() { ip netns exec "$1" ss -Huln 'sport = :547' | grep -q .; }
kea_hot() { grep -q 'HA_STATE_TRANSITION.*to HOT-STANDBY state' "$WORK/run/kea-primary.log" 2>/dev/null; }

start() {
    rm -rf "$WORK/run"; mkdir -p "$WORK/run"
    P_PID=""; S_PID=""
    case "$1" in
    ours)
        spawn "$NS_P" "$WORK/run/alone.log" "${ON_CLIENT_SIDE[@]}" "$BIN" run --config "$WORK/alone.toml"; P_PID=$SPAWNED
        wait_until 10 "ours listening" listening alone || return 1 ;;
    ours-b)
        [[ -x "${BIN_B:-}" ]] || die "ours-b needs BIN_B=PATH (a second build of the server, for an A/B run)"
        spawn "$NS_P" "$WORK/run/alone.log" "${ON_CLIENT_SIDE[@]}" "$BIN_B" run --config "$WORK/alone.toml"; P_PID=$SPAWNED
        wait_until 10 "ours-b listening" listening alone || return 1 ;;
    pair)
        spawn "$NS_S" "$WORK/run/secondary.log" "${ON_PARTNER_SIDE[@]}" "$BIN" run --config "$WORK/secondary.toml"; S_PID=$SPAWNED
        spawn "$NS_P" "$WORK/run/primary.log" "${ON_CLIENT_SIDE[@]}" "$BIN" run --config "$WORK/primary.toml"; P_PID=$SPAWNED
        wait_until 30 "pair in NORMAL" both_normal || return 1 ;;
    kea)
        spawn "$NS_P" "$WORK/run/kea.log" "${ON_CLIENT_SIDE[@]}" "$KEA" -c "$WORK/kea.json"; P_PID=$SPAWNED
        wait_until 10 "kea listening" udp547 "$NS_P" || return 1
        sleep 0.5 ;;
    kea-ha)
        spawn "$NS_S" "$WORK/run/kea-standby.log" "${ON_PARTNER_SIDE[@]}" "$KEA" -c "$WORK/kea-standby.json"; S_PID=$SPAWNED
        spawn "$NS_P" "$WORK/run/kea-primary.log" "${ON_CLIENT_SIDE[@]}" "$KEA" -c "$WORK/kea-primary.json"; P_PID=$SPAWNED
        wait_until 60 "kea HA primary in hot-standby" kea_hot || return 1 ;;
    *) die "unknown server $1 (ours pair kea kea-ha)" ;;
    esac
}

stop() {
    local p
    for p in $P_PID $S_PID; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $P_PID $S_PID; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}

CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { [[ -n "$1" ]] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pct() { awk -v a="$1" -v b="$2" -v t="$CLK_TCK" -v d="$DURATION" 'BEGIN {printf "%.0f", (b - a) / t / d * 100}'; }

# lease_count SERVER SIDE(p|s): active leases now. Ours: `ctl status`; Kea: distinct leases in
# its memfile (written on every change).
lease_count() {
    case "$1:$2" in
    ours:p | ours-b:p) "$BIN" ctl --json --socket "$WORK/run/alone.sock" status | jq .active_leases ;;
    pair:p) "$BIN" ctl --json --socket "$WORK/run/primary.sock" status | jq .active_leases ;;
    pair:s) "$BIN" ctl --json --socket "$WORK/run/secondary.sock" status | jq .active_leases ;;
    kea:p) kea_leases kea ;;
    kea-ha:p) kea_leases kea-primary ;;
    kea-ha:s) kea_leases kea-standby ;;
    *) echo - ;;
    esac 2>/dev/null || echo "?"
}
kea_leases() { awk -F, 'FNR > 1 && $3 > 0 {k[$1 "/" $9] = 1} END {print length(k)}' "$WORK/run/$1.csv"* 2>/dev/null || echo 0; }
# Our pair halfway through a run: the primary's active leases and its window of unacknowledged
# updates (from one status answer: sent and unacknowledged, queued to send, and the lease records
# still waiting for the primary's own commit, which the primary counts as active already and
# whose BNDUPDs leave after that commit; under overload thousands wait there), and the
# secondary's active leases, asked for at
# the same time (read one after the other, at 6,000 leases/s each 0.1 s between the two reads
# is worth 600 leases).
pair_mid() {
    local a b
    "$BIN" ctl --json --socket "$WORK/run/primary.sock" status >"$WORK/mid.p" 2>/dev/null & a=$!
    "$BIN" ctl --json --socket "$WORK/run/secondary.sock" status >"$WORK/mid.s" 2>/dev/null & b=$!
    wait "$a" "$b" || true
    echo "$(jq .active_leases "$WORK/mid.p" 2>/dev/null || echo '?')" \
        "$(jq '.relationships[0] | .unacked_updates + .pending_updates + .pending_storage_writes' "$WORK/mid.p" 2>/dev/null || echo '?')" \
        "$(jq .active_leases "$WORK/mid.s" 2>/dev/null || echo '?')"
}
# both tables equal (same resources bound to the same clients)?
tables_equal() {
    case "$1" in
    pair)
        local a b
        a="$("$BIN" ctl --json --socket "$WORK/run/primary.sock" leases | jq -c '.[] | [.resource, .client]' | sort | md5sum || true)"
        b="$("$BIN" ctl --json --socket "$WORK/run/secondary.sock" leases | jq -c '.[] | [.resource, .client]' | sort | md5sum || true)"
        [[ "$a" == "$b" ]] && echo yes || echo no ;;
    kea-ha)
        local a b
        a="$(awk -F, 'FNR > 1 && $3 > 0 {print $1 "/" $9, $2, $8}' "$WORK/run/kea-primary.csv"* | sort -u | md5sum || true)"
        b="$(awk -F, 'FNR > 1 && $3 > 0 {print $1 "/" $9, $2, $8}' "$WORK/run/kea-standby.csv"* | sort -u | md5sum || true)"
        [[ "$a" == "$b" ]] && echo yes || echo no ;;
    *) echo - ;;
    esac
}

# Median and count of Request->Reply delays (ms) in a capture of 1/16 of the transactions.
median_rr() {
    python3 - "$1" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
off, sent, delays = 24, {}, []
while off + 16 <= len(data):
    sec, usec, incl, _ = struct.unpack_from('<IIII', data, off)
    pkt = data[off + 16: off + 16 + incl]
    off += 16 + incl
    if len(pkt) < 66 or pkt[12:14] != b'\x86\xdd' or pkt[20] != 17:
        continue
    msg, xid, t = pkt[62], pkt[63:66], sec + usec / 1e6
    if msg == 3:
        sent[xid] = t
    elif msg == 7 and xid in sent:
        delays.append((t - sent.pop(xid)) * 1000)
delays.sort()
n = len(delays)
print(f"{delays[n // 2]:.3f} {n}" if n else "- 0")
EOF
}

pf() { grep -E "^$1" "$3" | sed -n "$2p" | awk -F': ' '{print $2}' | awk '{print $1}'; }

RESULTS="$WORK/results"
: > "$RESULTS"
HDR='%-4s %-6s %6s %8s %7s %7s %7s %7s %8s %5s %5s %5s %8s %8s %6s %8s %8s %3s %5s %6s %6s %5s %5s %5s %5s %5s %5s %6s\n'
printf "$HDR" mode server rate leases/s sa-drp% rr-drp% rr-med rr-avg rr-max p-cpu s-cpu pdcpu p-mid s-mid window p-1s s-1s eq load1 p-rbuf c-rbuf \
    c-rb c-rq p-rb p-rq p-thr c-thr sent/s
# Udp6RcvbufErrors of a namespace: datagrams its UDP sockets' full receive buffers dropped.
rcvbuf_errors() { ip netns exec "$1" awk '$1 == "Udp6RcvbufErrors" {print $2}' /proc/net/snmp6; }
# udp_mem NS: the largest receive queue (r) and receive buffer (rb) in bytes among the UDP
# sockets of a namespace (`ss -uam` skmem), "0 0" when it has none.
udp_mem() {
    ip netns exec "$1" ss -Huamn 2>/dev/null | awk '
        match($0, /skmem:\(r[0-9]+,rb[0-9]+/) {
            split(substr($0, RSTART + 8, RLENGTH - 8), a, ",rb")
            if (a[1] + 0 > r) r = a[1] + 0
            if (a[2] + 0 > b) b = a[2] + 0 }
        END {print r + 0, b + 0}'
}
# thread_ticks PID: "tid utime+stime" for every thread of a process (nothing once it is gone).
thread_ticks() {
    local t
    for t in /proc/"$1"/task/*/stat; do
        # the fields after the command name, which may hold spaces: utime and stime are 12th, 13th
        sed 's/^\([0-9]*\) (.*) /\1 /' "$t" 2>/dev/null | awk '{print $1, $13 + $14}'
    done 2>/dev/null || true
}
# busiest_pct BEFORE AFTER: CPU % of the busiest thread between two thread_ticks snapshots.
busiest_pct() {
    awk -v t="$CLK_TCK" -v d="$DURATION" 'FILENAME == ARGV[1] {a[$1] = $2; next}
        {x = $2 - a[$1]; if (x > m) m = x} END {printf "%.0f", m / t / d * 100}' "$1" "$2"
}
# sampler COUNT: every 0.25 s, the peak receive queue and the buffer of perfdhcp's and the
# server's UDP sockets into $WORK/sock, and perfdhcp's thread ticks into $WORK/pd.ticks.
sampler() {
    local i cr=0 cb=0 pr=0 pb=0 r b pd=""
    for ((i = 0; i < $1; i++)); do
        read -r r b < <(udp_mem "$NS_C") || true
        ((${r:-0} > cr)) && cr=$r; ((${b:-0} > cb)) && cb=$b
        read -r r b < <(udp_mem "$NS_P") || true
        ((${r:-0} > pr)) && pr=$r; ((${b:-0} > pb)) && pb=$b
        echo "$cr $cb $pr $pb" > "$WORK/sock.tmp" && mv "$WORK/sock.tmp" "$WORK/sock"
        if [[ -z "$pd" ]]; then
            for p in $(ip netns pids "$NS_C" 2>/dev/null); do
                [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == perfdhcp ]] && pd=$p
            done
        fi
        if [[ -n "$pd" ]]; then
            thread_ticks "$pd" > "$WORK/pd.tmp"
            [[ -s "$WORK/pd.tmp" ]] && mv "$WORK/pd.tmp" "$WORK/pd.ticks"
        fi
        sleep 0.25
    done
}
kib() { echo $(( ${1:-0} / 1024 )); }

# run_one MODE SERVER RATE: one bounded perfdhcp run against a freshly started server; one row.
run_one() {
    local mode="$1" srv="$2" rate="$3" e=address-only
    [[ "$mode" == napd ]] && e=address-and-prefix
    if ! start "$srv"; then
        stop
        echo "$mode $srv $rate: did not start, run skipped" | tee -a "$WORK/failed" >&2
        return 0
    fi
    local out="$WORK/perfdhcp.out" cap="$WORK/sample.pcap"
    # 1/16 of the transactions, both directions: those whose transaction id's last byte
    # matches its middle byte in the low 4 bits. perfdhcp numbers its transactions in
    # sequence and its send pattern repeats in the low bits, so a fixed residue of the last
    # byte alone would take one position of that pattern (its median read 1.3-1.7x that of all
    # Requests; the server README's run K). Tied to the middle byte, the residue rotates every
    # 256 ids and every position counts alike: about 470 Requests in 4 s at 2,000/s, median
    # within 5 % of all of them.
    ip netns exec "$NS_C" "${ON_PARTNER_SIDE[@]}" timeout $((DURATION + 40)) tcpdump -i "$IF_C" -s 80 -U -w "$cap" \
        'ip6 and udp and ((ip6[51] ^ ip6[50]) & 15) == 0' >/dev/null 2>&1 &
    DUMP=$!; PIDS+=("$DUMP")
    sleep 0.3
    local p0 s0 pb0 cb0 p1 s1 pb1 cb1
    p0="$(cpu_ticks "$P_PID")"; s0="$(cpu_ticks "$S_PID")"
    pb0="$(rcvbuf_errors "$NS_P")"; cb0="$(rcvbuf_errors "$NS_C")"
    thread_ticks "$P_PID" > "$WORK/p0.ticks"
    rm -f "$WORK/sock" "$WORK/pd.ticks"
    # Distinct clients (-R), bounded run (-p), wait for late replies (-W, µs).
    setsid ip netns exec "$NS_C" "${ON_LOADGEN[@]}" timeout $((DURATION + 30)) /usr/bin/time -f 'PDCPU %U %S' \
        perfdhcp -6 -l "$IF_C" -r "$rate" -p "$DURATION" -R 100000000 -e "$e" -W 1000000 >"$out" 2>&1 &
    PERF=$!; PIDS+=("$PERF")
    sampler $((DURATION * 4 + 12)) &
    SAMPLER=$!; PIDS+=("$SAMPLER")
    sleep "$(awk -v d="$DURATION" 'BEGIN {print d / 2}')"
    local p_mid s_mid win=- p_1s s_1s eq
    if [[ "$srv" == pair ]]; then
        read -r p_mid win s_mid < <(pair_mid)
    else
        p_mid="$(lease_count "$srv" p)"; s_mid="$(lease_count "$srv" s)"
    fi
    wait "$PERF" || true
    p1="$(cpu_ticks "$P_PID")"; s1="$(cpu_ticks "$S_PID")"
    pb1="$(rcvbuf_errors "$NS_P")"; cb1="$(rcvbuf_errors "$NS_C")"
    thread_ticks "$P_PID" > "$WORK/p1.ticks"
    kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true
    sleep 1
    p_1s="$(lease_count "$srv" p)"; s_1s="$(lease_count "$srv" s)"
    eq="$(tables_equal "$srv")"
    kill -INT "$DUMP" 2>/dev/null || true; wait "$DUMP" 2>/dev/null || true
    stop
    if [[ -n "${KEEP_LOGS:-}" ]]; then
        mkdir -p "$KEEP_LOGS/$mode-$srv-$rate" && cp "$WORK"/run/*.log "$WORK"/run/*.csv* "$out" "$KEEP_LOGS/$mode-$srv-$rate/" 2>/dev/null || true
    fi
    local rr_recv sa_sent med _n pd_cpu s_cpu=- cr=0 cb=0 pr=0 pb=0 c_thr=-
    rr_recv="$(pf 'received packets' 2 "$out")"; rr_recv="${rr_recv:-0}"
    sa_sent="$(pf 'sent packets' 1 "$out")"; sa_sent="${sa_sent:-0}"
    read -r med _n < <(median_rr "$cap" 2>/dev/null || echo "- 0") || med=-
    pd_cpu="$(awk '/^PDCPU/ {print $2 + $3}' "$out")"
    [[ -n "$S_PID" ]] && s_cpu="$(pct "$s0" "$s1")"
    [[ -s "$WORK/sock" ]] && read -r cr cb pr pb < "$WORK/sock"
    # perfdhcp's threads from their start (0 ticks) to the sampler's last look (<= 0.25 s before exit)
    [[ -s "$WORK/pd.ticks" ]] && c_thr="$(busiest_pct /dev/null "$WORK/pd.ticks")"
    if ((cb > 0 && cb != EXPECT_RB)); then
        echo "warning: $mode $srv $rate: perfdhcp's socket had a $cb-byte receive buffer, not $EXPECT_RB (net.core.rmem_default changed meanwhile)" | tee -a "$WORK/rbwarn" >&2
    fi
    printf "$HDR" "$mode" "$srv" "$rate" $((rr_recv / DURATION)) \
        "$(pf 'drops ratio' 1 "$out")" "$(pf 'drops ratio' 2 "$out")" "$med" \
        "$(pf 'avg delay' 2 "$out")" "$(pf 'max delay' 2 "$out")" \
        "$(pct "$p0" "$p1")" "$s_cpu" "$(awk -v c="${pd_cpu:-0}" -v d="$DURATION" 'BEGIN {printf "%.0f", c / d * 100}')" \
        "$p_mid" "$s_mid" "$win" "$p_1s" "$s_1s" "$eq" "$(cut -d' ' -f1 /proc/loadavg)" \
        $((pb1 - pb0)) $((cb1 - cb0)) "$(kib "$cb")" "$(kib "$cr")" "$(kib "$pb")" "$(kib "$pr")" \
        "$(busiest_pct "$WORK/p0.ticks" "$WORK/p1.ticks")" "$c_thr" $((sa_sent / DURATION)) | tee -a "$RESULTS"
    if [[ -z "${SHOWN_SS:-}" ]]; then
        # once per script run: perfdhcp's sockets as the kernel sees them (the last sample)
        SHOWN_SS=1
        echo "  check: perfdhcp's UDP socket(s) in this run: receive buffer (rb) $cb bytes, peak queue seen (r) $cr bytes; server's rb $pb, r $pr" >&2
    fi
}

# refine_rate MODE SERVER: the midpoint (to 50/s) between the highest loss-free rate so far (0
# when none was) and the lowest lossy rate above it, when they are more than REFINE_MIN apart;
# nothing otherwise.
refine_rate() {
    awk -v m="$1" -v s="$2" -v g="$REFINE_MIN" '$1 == m && $2 == s {
            ok[NR] = (($5 + 0) < 1 && ($6 + 0) < 1 && $4 > 0); r[NR] = $3 }
        END {
            for (i in r) if (ok[i] && r[i] > h) h = r[i]
            for (i in r) if (!ok[i] && r[i] > h && (!f || r[i] < f)) f = r[i]
            if (!f || f - h <= g) exit
            x = int((h + f) / 2 / 50 + 0.5) * 50
            if (x > h && x < f) print x }' "$RESULTS"
}

for mode in $MODES; do
    for rate in $RATES; do
        for srv in $SERVERS; do run_one "$mode" "$srv" "$rate"; done
    done
    # Bisection steps, the servers still interleaved step by step; bounded by REFINE.
    for ((step = 1; step <= REFINE; step++)); do
        any=""
        for srv in $SERVERS; do
            x="$(refine_rate "$mode" "$srv")"
            [[ -n "$x" ]] || continue
            any=1
            run_one "$mode" "$srv" "$x"
        done
        [[ -n "$any" ]] || break
    done
done

echo
[[ -s "$WORK/failed" ]] && { echo "runs skipped (server did not start):"; cat "$WORK/failed"; }
[[ -s "$WORK/rbwarn" ]] && { echo "receive buffer NOT as set in these runs:"; cat "$WORK/rbwarn"; }
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "rr-med = median Request->Reply ms from a 1/16 sample at the client; rr-avg/rr-max = perfdhcp's;"
echo "p-/s-cpu = primary (or standalone) / secondary CPU %, pdcpu = perfdhcp's; p-/s-mid = leases halfway"
echo "through the run, window = the primary's updates not yet acknowledged then (sent and unacked, queued, and the lease records still"
echo "waiting for its own store, whose BNDUPDs leave after that commit); p-/s-1s = 1 s after;"
echo "eq = both full tables (resource, client) equal when dumped right after the 1 s counts;"
echo "p-/c-rbuf = datagrams dropped for a full socket receive buffer (Udp6RcvbufErrors) in the server's / perfdhcp's namespace;"
echo "c-/p-rb = receive buffer KiB of perfdhcp's / the server's UDP socket, c-/p-rq = the largest receive queue KiB seen"
echo "(ss -uam every 0.25 s: bursts between samples are missed); p-/c-thr = CPU % of the busiest thread of the server / perfdhcp;"
echo "sent/s = Solicits perfdhcp sent per second (below the offered rate: perfdhcp could not keep its own pace);"
echo "rates not in RATES are bisection steps (REFINE=$REFINE, REFINE_MIN=$REFINE_MIN)"
echo
echo "per server: highest rate with under 1% drops in both exchanges (leases/s, median ms, CPU % server[+secondary]/perfdhcp,"
echo "and that CPU divided by the leases: a figure that holds on a loaded machine, where the CPU % depend on the other load),"
echo "peak = the most leases/s at any offered rate (drops allowed), and at the lowest offered rate with drops: the CPU of"
echo "each process, its busiest thread, and where the datagrams were lost (a full socket buffer: server's or perfdhcp's)"
for mode in $MODES; do
    for srv in $SERVERS; do
        awk -v m="$mode" -v s="$srv" '$1 == m && $2 == s {
                if ($4 > peak) {peak = $4; pr = $3}
                if ($3 + 0 > top + 0) {top = $3; t = $0}
                if (($5 + 0) < 1 && ($6 + 0) < 1 && $4 > 0) {if ($4 > b) {b = $4; r = $0}}
                else if (!lossy || $3 < lr) {lossy = $0; lr = $3} }
            END {split(r, f, " "); split(lossy, g, " ");
                 if (b) {
                     printf "%-4s %-6s loss-free %6d leases/s  med %s ms  cpu %s%s/%s", m, s, b, f[7], f[10], (f[11] == "-" ? "" : "+" f[11]), f[12]
                     if (f[28] < 0.97 * f[3]) printf " (offered %s, perfdhcp sent only %s/s)", f[3], f[28]
                     printf "  CPU per lease: server %.0f µs, perfdhcp %.0f µs", (f[10] + f[11]) * 1e4 / b, f[12] * 1e4 / b }
                 else printf "%-4s %-6s loss-free   none in this run", m, s;
                 printf "   peak %6d (offered %s)\n", peak, pr;
                 if (lossy) {
                     where = (g[20] + g[21] == 0) ? "no socket overflowed (replies late, lost or not sent)" : \
                         "socket drops: server " g[20] ", perfdhcp " g[21]
                     printf "            first lossy rate %s (%s%% / %s%% drops): server at %s%%%s CPU (busiest thread %s%%), perfdhcp at %s%% CPU (busiest thread %s%%); %s", \
                         g[3], g[5], g[6], g[10], (g[11] == "-" ? "" : "+" g[11]), g[26], g[12], g[27], where
                     if (g[12] >= 100) printf "; perfdhcp used a full core or more"
                     if (g[28] < 0.97 * g[3]) printf "; perfdhcp sent only %s Solicits/s", g[28]
                     if (g[10] + g[11] + g[12] >= 180) printf "; server + perfdhcp used %d%% of the 200%% of this machine", g[10] + g[11] + g[12]
                     printf "\n" }
                 split(t, h, " ")
                 if (h[28] < 0.97 * h[3] && (h[5] + 0) < 1 && (h[6] + 0) < 1)
                     printf "            limit: perfdhcp. At the top rate, %s offered, it sent only %s Solicits/s and got under 1%% drops: perfdhcp %s%% CPU (busiest thread %s%%), server %s%%%s\n", \
                         h[3], h[28], h[12], h[27], h[10], (h[11] == "-" ? "" : "+" h[11]) }' "$RESULTS"
    done
done
best() { awk -v m="$1" -v s="$2" '$1 == m && $2 == s && ($5 + 0) < 1 && ($6 + 0) < 1 && $4 > b {b = $4} END {print b + 0}' "$RESULTS"; }
peak() { awk -v m="$1" -v s="$2" '$1 == m && $2 == s && $4 > b {b = $4} END {print b + 0}' "$RESULTS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0 && a != "-" && b != "-") printf "%.2f", a / b; else print "n/a"}'; }
echo
echo "ratios: loss-free and peak leases/s; per offered rate: leases/s ratio / median latency ratio"
for mode in $MODES; do
    [[ " $SERVERS " == *" ours "* && " $SERVERS " == *" kea "* ]] &&
        echo "$(printf '%-4s %-11s' "$mode" ours/kea) loss-free $(ratio "$(best "$mode" ours)" "$(best "$mode" kea)")  peak $(ratio "$(peak "$mode" ours)" "$(peak "$mode" kea)")"
    for pr in "pair ours" "kea-ha kea"; do
        set -- $pr
        [[ " $SERVERS " == *" $1 "* && " $SERVERS " == *" $2 "* ]] || continue
        line="$(printf '%-4s %-11s' "$mode" "$1/$2") loss-free $(ratio "$(best "$mode" "$1")" "$(best "$mode" "$2")")  peak $(ratio "$(peak "$mode" "$1")" "$(peak "$mode" "$2")");"
        for rate in $RATES; do
            a=($(awk -v m="$mode" -v s="$1" -v r="$rate" '$1 == m && $2 == s && $3 == r {print $4, $7}' "$RESULTS"))
            b=($(awk -v m="$mode" -v s="$2" -v r="$rate" '$1 == m && $2 == s && $3 == r {print $4, $7}' "$RESULTS"))
            line+=" $rate: $(ratio "${a[0]:-0}" "${b[0]:-0}")/$(ratio "${a[1]:--}" "${b[1]:--}")"
        done
        echo "$line"
    done
done
echo
echo "secondary vs primary (pairs): halfway through the run, primary - secondary <= the primary's window of unacknowledged updates? equal 1 s after?"
awk '$2 == "pair" || $2 == "kea-ha" {
        d = $13 - $14
        w = ($15 == "-") ? "n/a (Kea reports no window)" : ((d <= $15) ? "within" : "OUTSIDE")
        printf "%-4s %-6s %6s  behind by %6d halfway (window %s: %s)  1 s after: %s vs %s, equal %s\n", $1, $2, $3, d, $15, w, $16, $17, $18}' "$RESULTS"

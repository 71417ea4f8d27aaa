#!/usr/bin/env bash
# Regenerates the real-world DHCPv6 captures in crates/wire/tests/data/.
#
# Runs ISC Kea (kea-dhcp6-server, IA_NA and IA_PD pools) in one network namespace and real
# clients in another, joined by a veth pair, and records each exchange with tcpdump:
#
#   kea-dhclient-na.pcap       dhclient -6 (IA_NA): Solicit..Reply, Renew, then Release (-r)
#   kea-dhclient-confirm.pcap  dhclient -6 restarted on its lease file: Confirm, then Release
#   kea-dhclient-pd.pcap       dhclient -6 -P (IA_PD only), then Release
#   kea-dhclient-na-pd.pcap    dhclient -6 -N -P (IA_NA + IA_PD), Renew, then Release
#   kea-dhclient-info.pcap     dhclient -6 -S (Information-request)
#   kea-dhcpcd.pcap            dhcpcd 9 (noipv6rs, ia_na + ia_pd, FQDN), Renew, then Release (-k)
#   kea-perfdhcp.pcap          perfdhcp -6 4-way, IA_NA + IA_PD, with Renews and Releases
#   kea-perfdhcp-relay.pcap    perfdhcp -6 -A 1 (Relay-forw / Relay-repl), IA_NA
#   kea-dhclient-rapid.pcap    dhclient -6 with "send dhcp6.rapid-commit": Solicit -> Reply
#
# Needs root and: kea-dhcp6-server kea-admin isc-dhcp-client dhcpcd5 tcpdump iproute2.
# Everything is bounded in time; namespaces, processes and temporary files are removed on exit.
# Nothing on the host is touched: dhclient and dhcpcd get their own lease, pid and DUID files
# (dhcpcd's /var/lib/dhcpcd and /run/dhcpcd are bind-mounted over inside `ip netns exec`'s
# private mount namespace), and resolv.conf is shadowed by /etc/netns/<ns>/resolv.conf.
set -euo pipefail

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/crates/wire/tests/data}"
SRV=dv6cap-srv
CLI=dv6cap-cli
SIF=veth-srv
CIF=veth-cli

[[ "$(id -u)" == 0 ]] || {
    echo "capture-vectors: needs root (network namespaces)" >&2
    exit 1
}
for tool in kea-dhcp6 perfdhcp dhclient dhcpcd tcpdump ip; do
    command -v "$tool" >/dev/null || {
        echo "capture-vectors: $tool not found (apt-get install kea-dhcp6-server kea-admin isc-dhcp-client dhcpcd5 tcpdump iproute2)" >&2
        exit 1
    }
done

WORK="$(mktemp -d /tmp/dv6cap.XXXXXX)"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    # dhclient daemonises: its pid files name the processes still running.
    for pid in "$WORK"/*.pid; do
        [[ -f $pid ]] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    sleep 0.3
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    ip netns pids "$CLI" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns pids "$SRV" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$CLI" 2>/dev/null || true
    ip netns del "$SRV" 2>/dev/null || true
    if [[ -n ${KEEP_WORK:-} ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    rm -rf "/etc/netns/$CLI" "/etc/netns/$SRV"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_srv() { ip netns exec "$SRV" "$@"; }
in_cli() { ip netns exec "$CLI" "$@"; }

# --- topology -------------------------------------------------------------------------------
ip netns del "$CLI" 2>/dev/null || true
ip netns del "$SRV" 2>/dev/null || true
ip netns add "$SRV"
ip netns add "$CLI"
mkdir -p "/etc/netns/$CLI" "/etc/netns/$SRV"
: >"/etc/netns/$CLI/resolv.conf"
: >"/etc/netns/$SRV/resolv.conf"
for ns in "$SRV" "$CLI"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
done
ip link add "$SIF" netns "$SRV" type veth peer name "$CIF" netns "$CLI"
in_srv sysctl -qw "net.ipv6.conf.$SIF.accept_dad=0"
in_cli sysctl -qw "net.ipv6.conf.$CIF.accept_dad=0"
# Fixed MAC addresses make the link-local addresses (and the clients' DUID-LL/LLTs) stable.
ip -n "$SRV" link set "$SIF" address 02:00:00:00:00:01
ip -n "$CLI" link set "$CIF" address 02:00:00:00:00:02
ip -n "$SRV" link set "$SIF" up
ip -n "$CLI" link set "$CIF" up
# A global address on the server side gives relayed traffic a link to select the subnet by.
ip -n "$SRV" addr add 2001:db8:1::1/64 dev "$SIF" nodad
sleep 0.5

# --- Kea ------------------------------------------------------------------------------------
cat >"$WORK/kea.json" <<EOF
{
  "Dhcp6": {
    "interfaces-config": { "interfaces": [ "$SIF" ] },
    "lease-database": { "type": "memfile", "persist": false },
    "server-id": { "type": "LLT", "persist": false },
    "renew-timer": 2,
    "rebind-timer": 3,
    "preferred-lifetime": 4,
    "valid-lifetime": 6,
    "option-data": [
      { "name": "dns-servers", "data": "2001:db8:1::53, 2001:db8:1::54" },
      { "name": "domain-search", "data": "example.com, lab.example.org" },
      { "name": "solmax-rt", "data": "3600" }
    ],
    "subnet6": [
      {
        "id": 1,
        "subnet": "2001:db8:1::/64",
        "interface": "$SIF",
        "rapid-commit": true,
        "pools": [ { "pool": "2001:db8:1::1000 - 2001:db8:1::1fff" } ],
        "pd-pools": [ { "prefix": "2001:db8:8000::", "prefix-len": 48, "delegated-len": 56 } ]
      }
    ],
    "loggers": [ { "name": "kea-dhcp6", "severity": "WARN",
                   "output_options": [ { "output": "$WORK/kea.log" } ] } ]
  }
}
EOF
export KEA_PIDFILE_DIR="$WORK" KEA_LOCKFILE_DIR="$WORK"
in_srv kea-dhcp6 -t "$WORK/kea.json" >/dev/null
in_srv kea-dhcp6 -c "$WORK/kea.json" >"$WORK/kea.out" 2>&1 &
PIDS+=($!)
sleep 1
kill -0 "${PIDS[-1]}" 2>/dev/null || {
    cat "$WORK/kea.out" >&2
    echo "capture-vectors: kea-dhcp6 did not start" >&2
    exit 1
}

# --- capture helpers ------------------------------------------------------------------------
CAP_PID=""
start_capture() {
    in_srv tcpdump -q -n -U --immediate-mode -s 0 -i "$SIF" -w "$WORK/$1" "udp port 546 or udp port 547" \
        >/dev/null 2>&1 &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    sleep 1
}
stop_capture() { # FILE MESSAGE...: stops tcpdump and checks that each message type is there
    sleep 0.5
    kill -TERM "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
    mkdir -p "$OUT"
    # An empty capture (24-byte pcap header only) means the exchange did not happen.
    (($(stat -c %s "$WORK/$1") > 24)) || {
        echo "capture-vectors: $1 captured nothing; logs in $WORK" >&2
        KEEP_WORK=1
        exit 1
    }
    expect "$@"
    cp "$WORK/$1" "$OUT/$1"
    printf '%-28s %6d bytes\n' "$1" "$(stat -c %s "$OUT/$1")"
}

# dhclient -6 with its own lease/pid files; binds (bounded by -1 / timeout), then daemonises.
dhclient_run() {
    local name=$1
    shift
    timeout 20 ip netns exec "$CLI" dhclient -6 -1 -v -lf "$WORK/$name.leases" \
        -pf "$WORK/$name.pid" "$@" "$CIF" >>"$WORK/dhclient.log" 2>&1
}
# Stops every client process in the client namespace (dhclient daemonises after binding).
# SIGTERM makes dhclient exit without a Release; the releases are explicit (-r).
stop_clients() {
    local pids i
    for i in $(seq 1 20); do
        pids="$(ip netns pids "$CLI" 2>/dev/null)"
        [[ -z $pids ]] && break
        if ((i < 12)); then kill $pids 2>/dev/null || true; else kill -9 $pids 2>/dev/null || true; fi
        sleep 0.25
    done
    rm -f "$WORK"/*.pid
}
# Message names as tcpdump prints them ("dhcp6 release"), in the capture being written.
capture_has() {
    # grep without -q: it must read to the end, or pipefail sees tcpdump die of SIGPIPE.
    tcpdump -n -r "$WORK/$1" 2>/dev/null | grep "dhcp6 $2" >/dev/null
}
dhclient_release() {
    local name=$1 cap=$2 try
    shift 2
    # Stop the bound daemon first so that the releasing process is alone on port 546.
    stop_clients
    # Safety net, bounded: if no Release reached the wire, try again.
    for try in 1 2 3; do
        timeout 10 ip netns exec "$CLI" dhclient -6 -r -v -lf "$WORK/$name.leases" \
            -pf "$WORK/$name.pid" "$@" "$CIF" >>"$WORK/dhclient.log" 2>&1 || true
        stop_clients
        sleep 0.3
        capture_has "$cap" release && return
        echo "capture-vectors: no Release on the wire for $name (try $try)" >>"$WORK/dhclient.log"
    done
}
# Fails unless the capture holds each named message type.
expect() {
    local cap=$1 m
    shift
    for m in "$@"; do
        capture_has "$cap" "$m" || {
            echo "capture-vectors: $cap lacks a '$m' message; logs in $WORK" >&2
            KEEP_WORK=1
            exit 1
        }
    done
}

# --- dhclient -------------------------------------------------------------------------------
start_capture kea-dhclient-na.pcap
dhclient_run na -N
sleep 2.5 # T1 = 2 s: one Renew / Reply
dhclient_release na kea-dhclient-na.pcap -N
stop_capture kea-dhclient-na.pcap solicit advertise request reply renew release

start_capture kea-dhclient-confirm.pcap
dhclient_run confirm -N
stop_clients
# Restarted with a lease in its lease file, dhclient confirms it first (RFC 8415 §18.2.3).
dhclient_run confirm -N
dhclient_release confirm kea-dhclient-confirm.pcap -N
stop_capture kea-dhclient-confirm.pcap solicit advertise request reply confirm release

start_capture kea-dhclient-pd.pcap
dhclient_run pd -P
dhclient_release pd kea-dhclient-pd.pcap -P
stop_capture kea-dhclient-pd.pcap solicit advertise request reply release

start_capture kea-dhclient-na-pd.pcap
dhclient_run napd -N -P
sleep 2.5
dhclient_release napd kea-dhclient-na-pd.pcap -N -P
stop_capture kea-dhclient-na-pd.pcap solicit advertise request reply renew release

start_capture kea-dhclient-info.pcap
timeout 10 ip netns exec "$CLI" dhclient -6 -S -1 -v -lf "$WORK/info.leases" \
    -pf "$WORK/info.pid" "$CIF" >>"$WORK/dhclient.log" 2>&1 || true
stop_clients
stop_capture kea-dhclient-info.pcap inf-req reply

# Rapid Commit (RFC 8415 §18.2.1): Solicit with RAPID_COMMIT, answered by a Reply.
printf 'send dhcp6.rapid-commit;\n' >"$WORK/rapid.conf"
start_capture kea-dhclient-rapid.pcap
dhclient_run rapid -N -cf "$WORK/rapid.conf"
stop_clients
stop_capture kea-dhclient-rapid.pcap solicit reply

# --- dhcpcd ---------------------------------------------------------------------------------
mkdir -p "$WORK/dhcpcd-db"
cat >"$WORK/dhcpcd.conf" <<EOF
# Only DHCPv6 on $CIF, without waiting for a Router Advertisement.
allowinterfaces $CIF
ipv6only
noipv6rs
nohook resolv.conf
duid
# Client FQDN option (RFC 4704) in its requests.
hostname dv6-client
fqdn both
interface $CIF
    ia_na 1
    ia_pd 2
EOF
start_capture kea-dhcpcd.pcap
# ip netns exec runs the command in a private mount namespace: the bind mounts give dhcpcd its
# own DUID and state directories without touching the host's /var/lib/dhcpcd or /run.
timeout 20 ip netns exec "$CLI" sh -c '
    set -e
    mkdir -p /var/lib/dhcpcd 2>/dev/null || true
    mount --bind "$1/dhcpcd-db" /var/lib/dhcpcd
    mount -t tmpfs -o size=1m dhcpcd-run /run
    mkdir -p /run/dhcpcd
    set +e
    dhcpcd -f "$1/dhcpcd.conf" -c /bin/true -B -6 -t 10 "$2" &
    pid=$!
    # Wait for both bindings and one Renew, then release them.
    for _ in $(seq 1 40); do
        grep -q "delegated prefix\|adding address" "$1/dhcpcd.log" 2>/dev/null && break
        sleep 0.25
    done
    sleep 3.5 # T1 = 2 s: one Renew / Reply
    # -k: the running daemon releases its leases (RFC 8415 §18.2.7) and exits.
    dhcpcd -f "$1/dhcpcd.conf" -6 -k "$2"
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
' sh "$WORK" "$CIF" >"$WORK/dhcpcd.log" 2>&1 || true
stop_clients
stop_capture kea-dhcpcd.pcap solicit advertise request reply renew release

# --- perfdhcp -------------------------------------------------------------------------------
perf() {
    timeout 20 ip netns exec "$CLI" perfdhcp -6 -l "$CIF" "$@" >>"$WORK/perfdhcp.log" 2>&1 || true
    stop_clients
}
start_capture kea-perfdhcp.pcap
perf -e address-and-prefix -r 2 -R 4 -p 3 -f 1 -F 1 -W 500000
stop_capture kea-perfdhcp.pcap solicit advertise request reply renew release

start_capture kea-perfdhcp-relay.pcap
perf -A 1 -r 4 -R 4 -n 4 -p 2 -W 500000
stop_capture kea-perfdhcp-relay.pcap relay-fwd relay-reply

if grep -E "ERROR|FATAL" "$WORK/kea.log" 2>/dev/null; then
    echo "capture-vectors: kea-dhcp6 logged errors (above)" >&2
    exit 1
fi
du -cb "$OUT"/kea-*.pcap | tail -1

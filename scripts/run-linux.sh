#!/usr/bin/env bash
# Boot an hvrr ISO with the physical COM1 connected both ways (the guest's
# console through the hypervisor's emulated 16550A).
#   scripts/run-linux.sh term ISO [TIMEOUT_S]
#       COM1 on this terminal, raw: what you type goes to the guest.
#       Leave with Ctrl-] (Bochs) or Ctrl-A x (QEMU); `poweroff -f` in the
#       guest ends the run too. TIMEOUT_S 0 = none.
#   scripts/run-linux.sh feed ISO LOG TIMEOUT_S TRIGGER TEXT
#       COM1 output to LOG; once a line containing TRIGGER was seen, type
#       TEXT (printf %b escapes, e.g. '\n') one byte every 50 ms.
# Bochs' COM1 is a socket server on 127.0.0.1 inside a private network
# namespace (no VNC exposure; `mode=term` hangs), reached with socat.
# QEMU+KVM is used when /dev/kvm offers nested VMX (HVRR_VM=bochs|qemu forces).
# Environment: HVRR_BOCHS_IPS (50000000), HVRR_MEM_MB (512),
# HVRR_COM2=FILE keeps the physical COM2 output (the hv's trace port),
# HVRR_KEEP=1 keeps Bochs' work directory.
set -euo pipefail

die() { echo "run-linux: $*" >&2; exit 2; }

# Internal: the feed side of the socket (stdin = COM1 output).
if [ "${1:-}" = --feeder ]; then
    log=$HVRR_FEED_LOG trigger=$HVRR_FEED_TRIGGER text=$HVRR_FEED_TEXT sent=0
    exec 3>>"$log"
    while IFS= read -r line || [ -n "$line" ]; do
        printf '%s\n' "$line" >&3
        if [ $sent = 0 ] && [[ $line == *"$trigger"* ]]; then
            sent=1
            sleep 1
            t=$(printf '%b' "$text")
            for ((i = 0; i < ${#t}; i++)); do
                printf '%s' "${t:i:1}"
                sleep 0.05
            done
            printf '\n'
        fi
    done
    exit 0
fi

mode=${1:-} iso=${2:-}
[ -f "$iso" ] || die "usage: $0 term ISO [TIMEOUT] | feed ISO LOG TIMEOUT TRIGGER TEXT"
case "$mode" in
term) tmo=${3:-0} ;;
feed) [ $# -eq 6 ] || die "feed needs ISO LOG TIMEOUT TRIGGER TEXT"; log=$3 tmo=$4 trigger=$5 text=$6 ;;
*) die "mode must be term or feed" ;;
esac
command -v socat >/dev/null || die "socat missing (make deps-vm)"
mem=${HVRR_MEM_MB:-512}
port=${HVRR_COM1_PORT:-4555}
self=$(realpath "$0")

. "$(dirname "$self")/vm-common.sh"
vm=${HVRR_VM:-}
if [ -z "$vm" ]; then
    if kvm_nested && command -v qemu-system-x86_64 >/dev/null; then vm=qemu; else vm=bochs; fi
fi

# The client end of COM1: this terminal or the feeder.
client() {
    if [ "$mode" = term ]; then
        socat -,raw,echo=0,escape=0x1d "TCP:127.0.0.1:$port,retry=100,interval=0.1"
    else
        : >"$log"
        HVRR_FEED_LOG=$log HVRR_FEED_TRIGGER=$trigger HVRR_FEED_TEXT=$text \
            socat "TCP:127.0.0.1:$port,retry=100,interval=0.1" "EXEC:$self --feeder"
    fi
}

if [ "$vm" = qemu ]; then
    com2=${HVRR_COM2:+file:$HVRR_COM2}
    if [ "$mode" = term ]; then
        echo "run-linux: QEMU+KVM; leave with Ctrl-A x" >&2
        exec timeout --foreground "$tmo" qemu-system-x86_64 -enable-kvm -cpu host -m "$mem" \
            -cdrom "$iso" -display none -no-reboot -serial mon:stdio -serial "${com2:-null}" \
            -device isa-debug-exit,iobase=0xf4,iosize=1
    fi
    timeout "$tmo" qemu-system-x86_64 -enable-kvm -cpu host -m "$mem" -cdrom "$iso" \
        -display none -no-reboot -serial "tcp:127.0.0.1:$port,server=on,wait=on" \
        -serial "${com2:-null}" -device isa-debug-exit,iobase=0xf4,iosize=1 </dev/null &
    qpid=$!
    client
    wait $qpid || exit $?
    exit 0
fi
[ "$vm" = bochs ] || die "unknown HVRR_VM=$vm"

# Bochs: run the rest inside a private network namespace with lo up.
if [ -z "${HVRR_IN_NETNS:-}" ]; then
    export HVRR_IN_NETNS=1
    if ! command -v ip >/dev/null; then
        echo "run-linux: warning: no ip (iproute2) to bring up lo in a network namespace; Bochs' VNC listens on 5900+" >&2
        HVRR_IN_NETNS=none
    elif unshare -n true 2>/dev/null; then exec unshare -n "$self" "$@"
    elif unshare -rn true 2>/dev/null; then exec unshare -rn "$self" "$@"
    else
        echo "run-linux: warning: no network namespace, Bochs' VNC listens on 5900+" >&2
        HVRR_IN_NETNS=none
    fi
fi
if [ "$HVRR_IN_NETNS" = 1 ]; then
    ip link set lo up 2>/dev/null || die "cannot bring up lo in the network namespace (iproute2?)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hvrr-linux.XXXXXX")
bochs_config "$work/bochsrc" "$iso" "mode=socket-server, dev=127.0.0.1:$port" "$work"
[ "$mode" = term ] && echo "run-linux: Bochs (emulated VMX); boot takes minutes; leave with Ctrl-]" >&2
# Bochs' debugger prompt wants a `c`; it then waits for COM1's client.
(echo c | timeout "$tmo" bochs -q -f "$work/bochsrc" >"$work/bochs.stdout" 2>&1) 2>/dev/null &
bpid=$!
rc=0
client || rc=$?
# The socket closes when Bochs ends; give it a moment to exit by itself.
for _ in $(seq 30); do kill -0 $bpid 2>/dev/null || break; sleep 0.1; done
if kill -0 $bpid 2>/dev/null; then
    # The client left first (Ctrl-] or a feed error): stop Bochs.
    pkill -P $bpid 2>/dev/null || true
    wait $bpid 2>/dev/null || true
    if [ "$mode" = term ]; then
        printf '\r\nrun-linux: left with Ctrl-]; Bochs stopped\n' >&2
    else
        rc=1
    fi
else
    wait $bpid || rc=$?
fi
if [ -n "${HVRR_COM2:-}" ] && [ -f "$work/com2.out" ]; then cp "$work/com2.out" "$HVRR_COM2"; fi
[ -n "${HVRR_KEEP:-}" ] && echo "run-linux: kept $work" >&2 || rm -rf "$work"
[ $rc = 124 ] && echo "run-linux: timed out after ${tmo}s" >&2
# Bochs exits with 1 on any power-off request: in term mode only a timeout
# is an error (feed mode's caller checks the log).
[ "$mode" = term ] && [ $rc != 124 ] && rc=0
exit $rc

#!/usr/bin/env bash
# Boot an hvrr ISO headless and capture the physical COM1 output.
#   scripts/run-vm.sh ISO SERIAL_OUT [TIMEOUT_S]
# Picks QEMU+KVM when /dev/kvm exists and nested VMX is on (HVRR_VM=qemu or
# HVRR_VM=bochs forces one). Bochs runs in its own network namespace so its
# VNC display (the only headless one Debian builds) is not reachable.
# Environment: HVRR_BOCHS_IPS (default 50000000), HVRR_MEM_MB (default 512),
# HVRR_COM2=FILE: also keep the physical COM2 output (the hv's trace port).
set -uo pipefail
iso=$1 out=$2 tmo=${3:-300}
mem=${HVRR_MEM_MB:-512}

. "$(dirname "$0")/vm-common.sh"

vm=${HVRR_VM:-}
if [ -z "$vm" ]; then
    if kvm_nested && command -v qemu-system-x86_64 >/dev/null; then vm=qemu; else vm=bochs; fi
fi
: >"$out"
case "$vm" in
qemu)
    echo "run-vm: QEMU+KVM (nested VMX), timeout ${tmo}s" >&2
    timeout "$tmo" qemu-system-x86_64 -enable-kvm -cpu host -m "$mem" -cdrom "$iso" \
        -display none -no-reboot -serial "file:$out" -serial "${HVRR_COM2:+file:}${HVRR_COM2:-null}" \
        -device isa-debug-exit,iobase=0xf4,iosize=1 </dev/null
    rc=$?
    ;;
bochs)
    echo "run-vm: Bochs (emulated VMX, corei7_skylake_x), timeout ${tmo}s" >&2
    work=$(mktemp -d "${TMPDIR:-/tmp}/hvrr-bochs.XXXXXX")
    bochs_config "$work/bochsrc" "$iso" "mode=file, dev=$work/com1.out" "$work"
    # Bochs' debugger prompt wants a `c`.
    # Own network namespace so the VNC display is unreachable: as root
    # `unshare -n`, otherwise a user namespace; without either, say so.
    if unshare -n true 2>/dev/null; then netns="unshare -n"
    elif unshare -rn true 2>/dev/null; then netns="unshare -rn"
    else netns=""; echo "run-vm: warning: no network namespace, Bochs' VNC listens on 5900+" >&2
    fi
    echo c | timeout "$tmo" $netns bochs -q -f "$work/bochsrc" \
        >"$work/bochs.stdout" 2>&1
    rc=$?
    cp "$work/com1.out" "$out" 2>/dev/null
    [ -n "${HVRR_COM2:-}" ] && cp "$work/com2.out" "$HVRR_COM2" 2>/dev/null
    [ -n "${HVRR_KEEP:-}" ] && echo "run-vm: kept $work" >&2 || rm -rf "$work"
    ;;
*) echo "run-vm: unknown HVRR_VM=$vm" >&2; exit 2 ;;
esac
[ $rc = 124 ] && echo "run-vm: timed out after ${tmo}s" >&2
exit $rc

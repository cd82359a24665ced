#!/usr/bin/env bash
# Boot the hvrr Linux guest through vlbl under QEMU TCG, with the multiboot
# shim standing in for the hypervisor (docs/vlbl.md).
#   guest/qemu-boot.sh test  OUTDIR   CI check: boots initrd-test, checks the log
#   guest/qemu-boot.sh shell OUTDIR   interactive: initrd-shell on this terminal
#   guest/qemu-boot.sh badkernel OUTDIR   CI check: vlbl must refuse a non-bzImage
#   guest/qemu-boot.sh probe OUTDIR   CI check: vlbl-probe.bin as the kernel checks
#                                     vlbl's hand-over and BIOS answers
# Environment: GUEST_APPEND (extra kernel parameters), QEMU_TIMEOUT (s, test: 120),
# QEMU_MEM (guest RAM, default 128M as under hvrr)
set -euo pipefail
mode=${1:-}
out=${2:-build/guest}
cmdline="console=ttyS0 panic=-1${GUEST_APPEND:+ $GUEST_APPEND}"
for f in qemu-shim.elf vlbl.bin bzImage; do
    [ -f "$out/$f" ] || { echo "qemu-boot.sh: missing $out/$f (make guest)" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-boot.sh: no qemu-system-x86_64 (make deps-vm)" >&2; exit 1; }
# No local APIC, as under hvrr (the shim also hides ACPI and MP tables).
qemu=(qemu-system-x86_64 -machine pc -m "${QEMU_MEM:-128M}" -cpu qemu64,-apic -nographic -no-reboot -net none
    -kernel "$out/qemu-shim.elf" -append "$cmdline")

case "$mode" in
shell)
    exec "${qemu[@]}" -initrd "$out/vlbl.bin,$out/bzImage,$out/initrd-shell.cpio.gz" -serial mon:stdio
    ;;
test | badkernel | probe) ;;
*) echo "usage: $0 test|shell|badkernel|probe [OUTDIR]" >&2; exit 2 ;;
esac

limit=${QEMU_TIMEOUT:-120}
log=$out/qemu-$mode.log
modules="$out/vlbl.bin,$out/bzImage,$out/initrd-test.cpio.gz"
if [ "$mode" = badkernel ]; then
    limit=${QEMU_TIMEOUT:-40}
    modules="$out/vlbl.bin,$out/initrd-test.cpio.gz" # an initramfs is no kernel
elif [ "$mode" = probe ]; then
    limit=${QEMU_TIMEOUT:-40}
    modules="$out/vlbl.bin,$out/vlbl-probe.bin,$out/vlbl.bin" # any bytes do as the initrd
fi
rm -f "$log"
start=$(date +%s%N)
ms() { echo $((($(date +%s%N) - start) / 1000000)); }
timeout "$limit" "${qemu[@]}" -initrd "$modules" \
    -serial "file:$log" -monitor none </dev/null >"$out/qemu-$mode.stdout" 2>&1 &
pid=$!
t_ready="" t_done="" end=""
while kill -0 "$pid" 2>/dev/null; do
    if [ -f "$log" ]; then
        [ -z "$t_ready" ] && grep -q '^HVRR-GUEST-READY' "$log" && t_ready=$(ms)
        [ -z "$t_done" ] && grep -q '^HVRR-TEST-DONE' "$log" && t_done=$(ms)
        # Without ACPI, `poweroff -f` ends in HLT with interrupts off and QEMU
        # idles: stop it once the kernel says so (as the hypervisor would).
        if grep -qE 'reboot: (System halted|Power down)|Kernel panic|vlbl: halted|hvrr-qemu-shim: FATAL|VLBL-PROBE: ' "$log"; then
            end=$(grep -a -m1 -oE 'reboot: (System halted|Power down)|Kernel panic.*|vlbl: FATAL.*|hvrr-qemu-shim: FATAL.*|VLBL-PROBE: .*' "$log" | tr -d '\r' || true)
            sleep 0.2
            kill "$pid" 2>/dev/null || true
            break
        fi
    fi
    sleep 0.1
done
wait "$pid" 2>/dev/null || true
total=$(ms)

grep -E '^(hvrr-qemu-shim|vlbl):' "$log" || true
if [ "$mode" = probe ]; then
    grep -E '^probe:' "$log" | tr -d '\r' || true
    if grep -q '^VLBL-PROBE: PASS' "$log"; then
        echo "guest-qemu-test: PASSED: vlbl-probe found the hand-over and BIOS answers as documented (${total} ms)"
        exit 0
    fi
    echo "guest-qemu-test: FAILED: vlbl-probe; log:"
    tail -n 30 "$log" | tr -d '\r'
    exit 1
fi
if [ "$mode" = badkernel ]; then
    if grep -q 'vlbl: FATAL: no Linux boot header' "$log" && grep -q 'vlbl: halted' "$log"; then
        echo "guest-qemu-test: PASSED: vlbl refuses a non-bzImage and halts (${total} ms)"
        exit 0
    fi
    echo "guest-qemu-test: FAILED: vlbl did not refuse a non-bzImage; log:"
    tail -n 20 "$log" | tr -d '\r'
    exit 1
fi
fail=0
check() {
    if grep -qE "$1" "$log"; then echo "  ok: $2"; else echo "  MISSING: $2"; fail=1; fi
}
echo "guest-qemu-test: checks on $log"
check '^HVRR-GUEST-READY' "HVRR-GUEST-READY"
check '^HVRR-TEST-DONE' "HVRR-TEST-DONE"
check 'ttyS0 at I/O 0x3f8 \(irq = 4, base_baud = 115200\) is a 16550A' "ttyS0 16550A at 0x3f8 irq 4"
check 'PCI host bridge to bus' "PCI host bridge"
if grep -q 'vlbl: INT .* unsupported' "$log"; then
    echo "  note: vlbl saw unsupported BIOS calls (above)"
fi
echo "guest-qemu-test: end: ${end:-QEMU exited or timed out}; ready at ${t_ready:-?} ms, done at ${t_done:-?} ms, total ${total} ms (limit ${limit} s)"
if [ $fail -ne 0 ]; then
    echo "guest-qemu-test: FAILED; last lines of the log:"
    tail -n 30 "$log" | tr -d '\r'
    exit 1
fi
echo "guest-qemu-test: PASSED"

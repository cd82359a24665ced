#!/usr/bin/env bash
# A mistyped hypervisor command line: the hv must name each bad option,
# print what it accepts, end with "RESULT FAIL hypervisor command line"
# and run no guest (a typo must not quietly boot without, say, recording).
# Then a good one with hex values and hv-looking words after cmdline=: the
# hv must take mem=0x8000000 as 128 MiB and timeout=0x14 as 20 s, ignore
# what follows cmdline=, and run the guest.
#   tests/e2e/run-badcmd.sh HV.elf GUEST_DIR OUTDIR TIMEOUT_S
set -uo pipefail
elf=$1 gdir=$2 out=$3 tmo=$4
mkdir -p "$out"
printf 'smoke poweroff\n' >"$out/guests.list"
scripts/mkiso-vm.sh "$out/badcmd.iso" "$elf" "hv=tests poweroff=1 record=strem tscleave=1" \
    "$out/guests.list" "$gdir" || exit 1
scripts/run-vm.sh "$out/badcmd.iso" "$out/com1.raw" "$tmo"
tr -d '\r' <"$out/com1.raw" >"$out/com1.log"
bad=0
need() { grep -aqF -- "$1" "$out/com1.log" || { echo "e2e-badcmd: missing: $1"; bad=1; }; }
need "hvrr: command line: 'record=strem': bad value (off|stream|flight)"
need "hvrr: command line: 'tscleave=1': unknown option"
need "hvrr: command line: accepted: "
need "hvrr: RESULT FAIL hypervisor command line"
if grep -aqE '^(PASS|FAIL) |GUEST smoke' "$out/com1.log"; then
    echo "e2e-badcmd: a guest ran despite the bad command line"; bad=1
fi
[ $bad = 0 ] || sed -n '1,40p' "$out/com1.log"

scripts/mkiso-vm.sh "$out/hexcmd.iso" "$elf" \
    "hv=tests poweroff=1 mem=0x8000000 timeout=0x14 cmdline=mem=0x1000 timeout=0 record=x" \
    "$out/guests.list" "$gdir" || exit 1
scripts/run-vm.sh "$out/hexcmd.iso" "$out/hex.raw" "$tmo"
tr -d '\r' <"$out/hex.raw" >"$out/hex.log"
bad2=0
need2() { grep -aqF -- "$1" "$out/hex.log" || { echo "e2e-badcmd: missing: $1"; bad2=1; }; }
need2 "hvrr: options: guest tests, mem 128 MiB, 1 vCPU(s), timeout 20 s, record off"
need2 "hvrr: RESULT PASS 1/1"
[ $bad2 = 0 ] || sed -n '1,40p' "$out/hex.log"
if [ $bad = 0 ] && [ $bad2 = 0 ]; then
    echo "e2e-badcmd: PASS (bad options named, nothing ran; hex values and cmdline= taken right)"
fi
[ $bad = 0 ] && [ $bad2 = 0 ]

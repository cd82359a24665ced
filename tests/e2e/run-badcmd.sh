#!/usr/bin/env bash
# A mistyped hypervisor command line: the hv must name each bad option,
# print what it accepts, end with "RESULT FAIL hypervisor command line"
# and run no guest (a typo must not quietly boot without, say, recording).
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
if [ $bad = 0 ]; then
    echo "e2e-badcmd: PASS (bad options named, nothing ran)"
else
    sed -n '1,40p' "$out/com1.log"
fi
exit $bad

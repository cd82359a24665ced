#!/usr/bin/env bash
# End-to-end: boot the test ISO (hv + every test guest) under Bochs or
# QEMU+KVM and check the hypervisor's verdicts on COM1.
#   tests/e2e/run-e2e.sh ISO GUEST_LIST OUTDIR TIMEOUT_S
# Fails on a missing RESULT line (timeout, hang, crash), on any FAIL line, and
# on a guest of GUEST_LIST without its "GUEST <name> PASS" line.
set -uo pipefail
iso=$1 list=$2 out=$3 tmo=$4
mkdir -p "$out"
log=$out/com1.log
start=$(date +%s.%N)
scripts/run-vm.sh "$iso" "$log.raw" "$tmo"
rc=$?
end=$(date +%s.%N)
tr -d '\r' <"$log.raw" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' >"$log"
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
bad=0
why=()
if ! grep -aq '^hvrr: RESULT ' "$log"; then
    bad=1; why+=("no RESULT line (emulator rc=$rc, timeout ${tmo}s)")
fi
if grep -aq '^hvrr: RESULT FAIL' "$log"; then bad=1; why+=("RESULT FAIL"); fi
if grep -aqE '^(FAIL|hvrr: GUEST [^ ]+ FAIL)' "$log"; then bad=1; why+=("FAIL lines"); fi
n=0
while read -r name expect rest; do
    case "$name" in ''|\#*) continue ;; esac
    n=$((n + 1))
    grep -aq "^hvrr: GUEST $name PASS" "$log" || { bad=1; why+=("guest $name did not pass"); }
done <"$list"
if [ $bad = 0 ]; then
    grep -a -E '^(PASS|pit: |irq: |hvrr: GUEST [^ ]+ PASS|hvrr: RESULT)' "$log"
    printf 'e2e: PASS, %d guests in %.1f s\n' "$n" "$secs"
    exit 0
fi
echo "---- serial log ($log) ----"
grep -av '^\s*$' "$log" | tail -200
echo "----"
printf 'e2e: FAIL (%s) after %.1f s\n' "$(IFS=';'; echo "${why[*]}")" "$secs"
exit 1

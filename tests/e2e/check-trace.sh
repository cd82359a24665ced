#!/usr/bin/env bash
# Checks the traces a hypervisor run recorded on COM2 against what it printed
# on COM1: one trace per VM, in order; for each, the exit counts per reason
# recorded in the trace must equal the hv's own "EXIT-COUNTS" line, no exit
# sequence number may be missing, nothing may be damaged, and (unless
# NO_REPLAY=1) `hvrr replay` must report 0 divergences.
#   tests/e2e/check-trace.sh HVRR COM1_LOG COM2_OUT OUTDIR
set -uo pipefail
hvrr=$1 log=$2 com2=$3 out=$4
mkdir -p "$out"
mapfile -t want < <(tr -d '\r' <"$log" | grep -a '^hvrr: EXIT-COUNTS ' | sed 's/^hvrr: //')
if [ ${#want[@]} = 0 ]; then
    echo "check-trace: no EXIT-COUNTS line in $log"
    exit 1
fi
[ -s "$com2" ] || { echo "check-trace: no trace output in $com2"; exit 1; }
bad=0 k=0 exits=0 bytes=0
for w in "${want[@]}"; do
    t=$out/trace-$k.hvt
    if ! "$hvrr" capture -q --counts --trace "$k" "$com2" -o "$t" >"$out/capture-$k.txt" 2>&1; then
        echo "check-trace: trace $k: capture failed:"; cat "$out/capture-$k.txt"; bad=1
        k=$((k + 1)); continue
    fi
    got=$(grep -a '^EXIT-COUNTS ' "$out/capture-$k.txt")
    gaps=$(grep -a '^SEQ-GAPS ' "$out/capture-$k.txt")
    if [ "$got" != "$w" ]; then
        echo "check-trace: trace $k: counts differ"; echo "  hv:    $w"; echo "  trace: $got"; bad=1
    fi
    if [ "$gaps" != "SEQ-GAPS 0 (0 exits missing), DAMAGE 0" ]; then
        echo "check-trace: trace $k: $gaps"; bad=1
    fi
    if [ "${NO_REPLAY:-0}" != 1 ]; then
        if ! "$hvrr" replay "$t" >"$out/replay-$k.txt" 2>&1; then
            echo "check-trace: trace $k: replay diverges or fails:"; head -30 "$out/replay-$k.txt"; bad=1
        fi
    fi
    n=${w#EXIT-COUNTS total=}; n=${n%% *}
    exits=$((exits + n)); bytes=$((bytes + $(stat -c %s "$t")))
    k=$((k + 1))
done
if [ $bad = 0 ]; then
    echo "check-trace: PASS, $k trace(s), $exits exits in $bytes bytes; counts match the hv's," \
        "no sequence gaps, no damage$([ "${NO_REPLAY:-0}" != 1 ] && echo ', 0 replay divergences')"
    exit 0
fi
echo "check-trace: FAIL"
exit 1

#!/usr/bin/env bash
# Flight-recorder end-to-end: hv record=flight with an 8 KiB ring runs the
# `flight` guest (fills the console, then OUT to the dump port 0xbf0) and the
# `tf` guest (triple fault). Only dumps reach COM2. Checks: the flight trace
# ends with the End record of all the guest's exits, holds the last exits
# without a sequence gap, shows the dropped frames as one `gap` and replays
# with 0 divergences; the triple-fault trace is complete (exit counts equal
# the hv's) and replays with 0 divergences.
#   tests/e2e/run-flight.sh HVRR HV.elf GUEST_DIR OUTDIR TIMEOUT_S
set -uo pipefail
hvrr=$1 elf=$2 gdir=$3 out=$4 tmo=$5
mkdir -p "$out"
scripts/mkiso-vm.sh "$out/flight.iso" "$elf" \
    "hv=tests poweroff=1 record=flight flight_kib=8 checkpoint=1024" tests/guests/flight.list "$gdir" || exit 1
rm -f "$out/com2.out"
HVRR_COM2=$out/com2.out scripts/run-vm.sh "$out/flight.iso" "$out/com1.raw" "$tmo"
tr -d '\r' <"$out/com1.raw" >"$out/com1.log"
bad=0
fail() { echo "e2e-flight: $*"; bad=1; }
grep -aq '^hvrr: RESULT PASS 2/2' "$out/com1.log" || fail "guests did not pass"
mapfile -t want < <(grep -a '^hvrr: EXIT-COUNTS ' "$out/com1.log" | sed 's/^hvrr: //')
[ ${#want[@]} = 2 ] || fail "expected 2 EXIT-COUNTS lines, got ${#want[@]}"
grep -aq 'flight ring dump (magic port write)' "$out/com1.log" || fail "no dump on the magic port"
grep -aq 'flight ring dump (triple fault)' "$out/com1.log" || fail "no dump on the triple fault"
# 1. the flight guest: a tail of the run
# (the dump lacks the frames before the ring: capture reports that damage, rc 1)
"$hvrr" capture -q --counts --trace 0 "$out/com2.out" -o "$out/flight.hvt" >"$out/cap0.txt" 2>&1
[ $? = 1 ] || fail "flight trace: capture should exit 1 (frames before the ring are missing)"
"$hvrr" stats "$out/flight.hvt" >"$out/stats0.txt" 2>&1
total=${want[0]#EXIT-COUNTS total=}; total=${total%% *}
grep -q "^end of trace   present: $total exits recorded, reason power-off" "$out/stats0.txt" || fail "flight trace: End record does not say $total exits"
got=$(sed -n 's/^EXIT-COUNTS total=\([0-9]*\).*/\1/p' "$out/cap0.txt")
[ -n "$got" ] && [ "$got" -gt 1000 ] && [ "$got" -lt "$total" ] || fail "flight trace: $got exits kept of $total (want a tail)"
# the exits before the first surviving frame count as missing
grep -q "^SEQ-GAPS 1 ($((total - got)) exits missing), DAMAGE 1\$" "$out/cap0.txt" || fail "flight trace: $(grep SEQ-GAPS "$out/cap0.txt")"
grep -q 'gap: frames 1\.\.' "$out/stats0.txt" || fail "flight trace: dropped frames not reported as one gap after the header"
"$hvrr" replay "$out/flight.hvt" >"$out/replay0.txt" 2>&1
grep -q '^result: 0 divergences' "$out/replay0.txt" || fail "flight trace: replay: $(tail -1 "$out/replay0.txt")"
# 2. the triple-fault guest: the whole run
"$hvrr" capture -q --counts --trace 1 "$out/com2.out" -o "$out/tf.hvt" >"$out/cap1.txt" 2>&1 || fail "tf trace: capture failed"
[ "$(grep '^EXIT-COUNTS' "$out/cap1.txt")" = "${want[1]}" ] || fail "tf trace: counts differ from the hv's"
grep -q '^SEQ-GAPS 0 (0 exits missing), DAMAGE 0$' "$out/cap1.txt" || fail "tf trace: $(grep SEQ-GAPS "$out/cap1.txt")"
"$hvrr" replay "$out/tf.hvt" >"$out/replay1.txt" 2>&1 || fail "tf trace: replay: $(tail -1 "$out/replay1.txt")"
if [ $bad = 0 ]; then
    echo "e2e-flight: PASS: magic-port dump kept the last $got of $total exits ($(stat -c %s "$out/flight.hvt") bytes, $(sed -n 's/.*: gap: \(.*\)/\1/p' "$out/stats0.txt" | head -1)), triple-fault dump complete; both replay with 0 divergences"
    exit 0
fi
tail -30 "$out/com1.log"
exit 1

#!/bin/bash
# A seeded shared bug (docs/crosscheck.md): the 16550's scratch register gets
# bit 0 stuck at 1 in a scratch copy of the tree; that copy's scenario
# player records the io-guest trace through the buggy model and that copy's
# `hvrr replay` finds nothing (model and trace share the bug). `hvrr
# crosscheck` must name the read: SCR (port 0x3ff), trace 0x5b, QEMU 0x5a.
# Today's hvrr replay disagrees too (the trace really carries the bug).
# Usage: HVRR=build/hvrr BUILD=build bash tests/crosscheck_seeded.sh
set -u
S=$BUILD/xc-seeded
fails=0 passes=0
check() { if [ "$2" -eq 0 ]; then passes=$((passes + 1)); else echo "FAIL: $1"; fails=$((fails + 1)); fi; }
rm -rf "$S" && mkdir -p "$S/src"
git ls-files -z | grep -zv '^corpus/' | xargs -0 cp --parents -t "$S/src" || exit 1
f=$S/src/hv/devs/uart16550.c
sed -i 's/default: u->scr = v; break;/default: u->scr = v | 1; break;/' "$f"
grep -q 'u->scr = v | 1;' "$f"; check "the seeded bug applies" $?
nice -n 10 make -C "$S/src" -j2 BUILD=build build/hvrr build/hvrr-scenario >"$S/build.log" 2>&1
check "seeded tree builds (log: $S/build.log)" $?
"$S/src/build/hvrr-scenario" io-guest -o "$S/seeded.hvt" >/dev/null 2>&1
check "seeded scenario records" $?
"$S/src/build/hvrr" replay "$S/seeded.hvt" >"$S/replay-seeded.out" 2>&1
check "replay with the seeded models is clean" $?
"$HVRR" replay "$S/seeded.hvt" >"$S/replay-today.out" 2>&1
[ $? -eq 1 ]; check "replay with today's models diverges" $?
"$HVRR" crosscheck "$S/seeded.hvt" >"$S/crosscheck.out" 2>&1
[ $? -eq 1 ]; check "crosscheck fails on the seeded trace" $?
grep -q '^difference: exit [0-9]*, device uart, register SCR (port 0x3ff), trace 0x5b, qemu 0x5a$' \
    "$S/crosscheck.out"
check "crosscheck names the read" $?
grep -q 'result: 1 unexplained' "$S/crosscheck.out"; check "exactly one difference" $?
echo "crosscheck-seeded: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

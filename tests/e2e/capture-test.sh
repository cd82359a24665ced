#!/usr/bin/env bash
# hvrr capture on the byte streams a trace port produces: leading garbage,
# several traces back to back, a pipe, a cut line, Ctrl-C, bad usage.
# Uses the real captures in corpus/ (hv-bochs-*.hvt).
#   HVRR=build/hvrr TMPDIR=build/tmp tests/e2e/capture-test.sh
set -uo pipefail
hvrr=${HVRR:-build/hvrr}
t=$(mktemp -d "${TMPDIR:-/tmp}/capture-test.XXXXXX")
trap 'rm -rf "$t"' EXIT
a=corpus/hv-bochs-pit-guest.hvt b=corpus/hv-bochs-cpu-guest.hvt
pass=0 failn=0
ok() { pass=$((pass + 1)); }
no() { echo "capture-test: FAIL: $*"; failn=$((failn + 1)); }

# Boot noise, two traces, noise between and after (what COM2 carries).
{ printf 'GRUB noise\r\n\x9eHV'; cat "$a"; printf 'junk'; cat "$b"; printf 'tail'; } >"$t/line"
"$hvrr" capture -q "$t/line" -o "$t/0.hvt" 2>/dev/null && cmp -s "$t/0.hvt" "$a" && ok || no "first trace not byte-identical"
"$hvrr" capture -q --trace 1 "$t/line" -o "$t/1.hvt" 2>/dev/null && cmp -s "$t/1.hvt" "$b" && ok || no "--trace 1 not byte-identical"
"$hvrr" capture -q --trace 2 "$t/line" -o "$t/2.hvt" 2>/dev/null; [ $? = 1 ] && ok || no "--trace 2 (none) should exit 1"
# From a pipe, with --counts.
cat "$t/line" | "$hvrr" capture -q --counts - -o "$t/p.hvt" >"$t/p.txt" 2>/dev/null && cmp -s "$t/p.hvt" "$a" && ok || no "pipe source"
n=$("$hvrr" stats "$a" | sed -n 's/^end of trace   present: \([0-9]*\) exits.*/\1/p')
grep -q "^EXIT-COUNTS total=$n " "$t/p.txt" && grep -q '^SEQ-GAPS 0 (0 exits missing), DAMAGE 0$' "$t/p.txt" && ok || no "--counts: $(cat "$t/p.txt")"
# A line cut in the middle: rc 1, every whole frame kept, readable.
head -c 2000 "$a" >"$t/cut"
"$hvrr" capture -q "$t/cut" -o "$t/c.hvt" 2>/dev/null; [ $? = 1 ] && ok || no "cut input should exit 1"
# (stats reads what is there and exits 1: the trace is damaged)
"$hvrr" stats "$t/c.hvt" >"$t/c.txt" 2>/dev/null; src=$?
cmp -s "$t/c.hvt" "$t/cut" && [ $src = 1 ] && grep -qE '^frames +[1-9][0-9]* decoded' "$t/c.txt" && ok || no "cut input: kept bytes differ or unreadable"
# Ctrl-C while the source stays open: rc 0, what arrived is kept.
mkfifo "$t/fifo"
( head -c 2000 "$a"; sleep 30 ) >"$t/fifo" &
feeder=$!
"$hvrr" capture -q "$t/fifo" -o "$t/i.hvt" 2>"$t/i.err" &
cap=$!
sleep 1
kill -INT $cap
wait $cap; rc=$?
kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
[ $rc = 0 ] && cmp -s "$t/i.hvt" "$t/cut" && grep -q 'Ctrl-C' "$t/i.err" && ok || no "Ctrl-C: rc $rc, $(cat "$t/i.err")"
# A serial device: a pty pair (socat) stands in for /dev/ttyS*; termios is
# set to raw at --baud, the trace goes through the line, capture stops at End.
if command -v socat >/dev/null; then
    socat pty,raw,echo=0,link="$t/ttyA" pty,raw,echo=0,link="$t/ttyB" 2>/dev/null &
    sp=$!
    for _ in $(seq 50); do [ -e "$t/ttyA" ] && [ -e "$t/ttyB" ] && break; sleep 0.1; done
    timeout 20 "$hvrr" capture -q --baud 115200 "$t/ttyA" -o "$t/tty.hvt" 2>/dev/null &
    cp=$!
    sleep 0.5
    cat "$t/line" >"$t/ttyB"
    wait $cp; rc=$?
    kill $sp 2>/dev/null; wait $sp 2>/dev/null
    [ $rc = 0 ] && cmp -s "$t/tty.hvt" "$a" && ok || no "tty source: rc $rc"
else
    echo "capture-test: socat not installed, tty case skipped"
fi
# Usage errors.
"$hvrr" capture "$a" 2>/dev/null; [ $? = 2 ] && ok || no "missing -o should exit 2"
"$hvrr" capture --baud 12345 "$a" -o "$t/x" 2>/dev/null; [ $? = 2 ] && ok || no "bad --baud should exit 2"
"$hvrr" capture /nonexistent -o "$t/x" 2>/dev/null; [ $? = 1 ] && ok || no "missing source should exit 1"
echo "capture-test: $pass passed, $failn failed"
[ $failn = 0 ]

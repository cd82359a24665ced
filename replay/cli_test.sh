#!/usr/bin/env bash
# Smoke test of the hvrr CLI: synth, dump and stats on a good trace and on
# damaged copies; checks exit codes and the damage report. Run by
# `make trace-cli-test` with HVRR set to the binary.
set -u
HVRR=${HVRR:-build/hvrr}
dir=$(mktemp -d "${TMPDIR:-/tmp}/hvrr-cli.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
fails=0 passes=0
check() { # name, condition (exit status of the preceding test)
    if [ "$2" -eq 0 ]; then passes=$((passes + 1)); else echo "FAIL: $1"; fails=$((fails + 1)); fi
}
expect_rc() { # name, expected rc, command...
    local name=$1 want=$2; shift 2
    "$@" >"$dir/out" 2>"$dir/err"; local rc=$?
    [ "$rc" -eq "$want" ]; check "$name (rc $rc, want $want)" $?
}

mkdir -p "$dir"
t=$dir/good.hvrr
expect_rc "synth" 0 "$HVRR" synth -o "$t" --exits 20000 --checkpoint-every 5000
[ -s "$t" ]; check "synth wrote a file" $?
expect_rc "dump" 0 "$HVRR" dump "$t"
n=$(grep -cE '^ *[0-9]+ cpu' "$dir/out"); [ "$n" -eq 20000 ]; check "dump prints 20000 exits ($n)" $?
grep -q '^# end of trace: 20000 exits' "$dir/out"; check "dump shows the end record" $?
grep -q "out 0x3f8/1 <- 0x" "$dir/out"; check "dump shows UART writes" $?
expect_rc "stats" 0 "$HVRR" stats "$t"
grep -qE '^  IO +[0-9]+' "$dir/out"; check "stats: exits by reason" $?
grep -q '0x03fd  com1' "$dir/out"; check "stats: exits by port and device" $?
grep -q '^damage         0 report' "$dir/out"; check "stats: no damage on a good file" $?

# Export: the raw protobuf stream (hvrr.TraceStream).
expect_rc "export --raw" 0 "$HVRR" export --raw -o "$dir/raw.bin" "$t"
[ -s "$dir/raw.bin" ]; check "export wrote the stream" $?
[ "$(head -c 1 "$dir/raw.bin" | od -An -tx1 | tr -d ' ')" = 0a ]; check "stream starts with field 1" $?
if command -v protoc >/dev/null 2>&1; then
    n=$(protoc --decode=hvrr.TraceStream -I . trace/hvrr.proto <"$dir/raw.bin" | grep -c '^  exit {')
    [ "$n" -eq 20000 ]; check "protoc --decode sees 20000 exits ($n)" $?
fi
expect_rc "export without a format" 2 "$HVRR" export "$t"

# Damage: overwrite 64 bytes in the middle.
size=$(stat -c %s "$t")
cp "$t" "$dir/bad.hvrr"
printf '%*s' 64 '' | tr ' ' '\377' | dd of="$dir/bad.hvrr" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_rc "stats on damaged file" 0 "$HVRR" stats "$dir/bad.hvrr"
grep -qE '^  at byte [0-9]+, [0-9]+ bytes, [1-9][0-9]* frame\(s\) lost' "$dir/out"; check "stats reports where the damage is" $?
grep -q 'end of trace   present' "$dir/out"; check "frames after the damage recovered" $?
expect_rc "dump on damaged file" 0 "$HVRR" dump "$dir/bad.hvrr"
grep -q '^!! damage at byte' "$dir/out"; check "dump prints the damage line" $?

# Truncated: cut in the middle; still recoverable, end record missing.
head -c $((size / 3)) "$t" >"$dir/cut.hvrr"
expect_rc "stats on truncated file" 0 "$HVRR" stats "$dir/cut.hvrr"
grep -q 'end of trace   MISSING' "$dir/out"; check "truncation reported" $?

# Nothing recoverable: random bytes, an empty file, a missing file.
head -c 5000 /dev/urandom >"$dir/noise.hvrr"
expect_rc "stats on noise" 1 "$HVRR" stats "$dir/noise.hvrr"
grep -q 'nothing recoverable' "$dir/err"; check "noise: clear message" $?
: >"$dir/empty.hvrr"
expect_rc "stats on empty file" 1 "$HVRR" stats "$dir/empty.hvrr"
expect_rc "dump on missing file" 1 "$HVRR" dump "$dir/nonexistent.hvrr"
grep -q 'cannot open' "$dir/err"; check "missing file: clear message" $?

# Usage: --help everywhere, errors exit 2.
for c in dump stats synth export; do expect_rc "$c --help" 0 "$HVRR" $c --help; done
expect_rc "hvrr --help" 0 "$HVRR" --help
expect_rc "no command" 2 "$HVRR"
expect_rc "unknown command" 2 "$HVRR" frobnicate
expect_rc "dump without file" 2 "$HVRR" dump
expect_rc "stats bad option" 2 "$HVRR" stats --bogus "$t"
expect_rc "synth without -o" 2 "$HVRR" synth

echo "trace-cli-test: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

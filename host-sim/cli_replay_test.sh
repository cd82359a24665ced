#!/usr/bin/env bash
# Smoke test of hvrr replay / diff / export --perfetto on the corpus: exit
# codes, deterministic output, options, damaged and missing input. Run by
# `make replay-cli-test` with HVRR set to the binary.
set -u
HVRR=${HVRR:-build/hvrr}
dir=$(mktemp -d "${TMPDIR:-/tmp}/hvrr-replay-cli.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
fails=0 passes=0
check() { if [ "$2" -eq 0 ]; then passes=$((passes + 1)); else echo "FAIL: $1"; fails=$((fails + 1)); fi; }
expect_rc() { # name, expected rc, command...
    local name=$1 want=$2; shift 2
    "$@" >"$dir/out" 2>"$dir/err"; local rc=$?
    [ "$rc" -eq "$want" ]; check "$name (rc $rc, want $want)" $?
}
t=corpus/serial-shell.hvt
q=corpus/linux-boot-quiet.hvt

expect_rc "replay" 0 "$HVRR" replay "$t"
grep -q '^result: 0 divergences' "$dir/out"; check "replay says 0 divergences" $?
grep -q 'not checked: .* CPUID/MSR' "$dir/out"; check "replay says what it does not check" $?
cp "$dir/out" "$dir/first"
expect_rc "stats" 0 "$HVRR" stats "$t"
grep -q '^guest RTC      2026-01-01 00:00:00 UTC at virtual time 0' "$dir/out"; check "stats shows the guest RTC the run started with" $?
expect_rc "replay again" 0 "$HVRR" replay "$t"
cmp -s "$dir/out" "$dir/first"; check "two replays print the same bytes" $?
expect_rc "replay --until 99" 0 "$HVRR" replay --until 99 "$t"
grep -q ', 100 exits' "$dir/out"; check "--until 99 replays exits 0..99" $?
expect_rc "replay --from 5000" 0 "$HVRR" replay --from 5000 "$t"
grep -qE '[1-9][0-9]* checkpoints restored' "$dir/out"; check "--from restores earlier checkpoints" $?
expect_rc "replay --stop-at-first" 0 "$HVRR" replay --stop-at-first "$t"

# Damage: the replay goes on from the next checkpoint but is not clean.
size=$(stat -c %s "$t")
cp "$t" "$dir/bad.hvt"
printf '%*s' 64 '' | tr ' ' '\377' | dd of="$dir/bad.hvt" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_rc "replay of a damaged trace" 1 "$HVRR" replay "$dir/bad.hvt"
grep -q '^damage:' "$dir/out"; check "damage reported" $?
expect_rc "replay of a missing file" 1 "$HVRR" replay "$dir/nope.hvt"
cat "$dir/out" "$dir/err" | grep -q "cannot open"; check "missing file: clear message" $?
head -c 3000 /dev/urandom >"$dir/noise.hvt"
expect_rc "replay of noise" 1 "$HVRR" replay "$dir/noise.hvt"
expect_rc "replay --help" 0 "$HVRR" replay --help
expect_rc "replay without file" 2 "$HVRR" replay
expect_rc "replay bad option" 2 "$HVRR" replay --bogus "$t"
expect_rc "replay --until before --from" 2 "$HVRR" replay --from 10 --until 5 "$t"
expect_rc "replay --from without number" 2 "$HVRR" replay --from x "$t"

# diff
expect_rc "diff of a trace with itself" 0 "$HVRR" diff "$t" "$t"
grep -q '^identical:' "$dir/out"; check "diff says identical" $?
expect_rc "diff of two workloads" 1 "$HVRR" diff --max 3 "$t" "$q"
grep -q '^first difference at exit' "$dir/out"; check "diff names the first difference" $?
grep -q 'more differing records not shown' "$dir/out"; check "diff --max limits the listing" $?
expect_rc "diff --ignore-time --ignore-rip of two workloads" 1 "$HVRR" diff --ignore-time --ignore-rip "$t" "$q"
expect_rc "diff with one file" 2 "$HVRR" diff "$t"
expect_rc "diff --help" 0 "$HVRR" diff --help

# export --perfetto
expect_rc "export --perfetto" 0 "$HVRR" export --perfetto "$t" -o "$dir/t.json"
python3 - "$dir/t.json" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
ph = {}
for e in ev:
    ph[e["ph"]] = ph.get(e["ph"], 0) + 1
assert ph.get("X", 0) == 10299, ph          # one slice per exit
assert ph.get("C", 0) > 100, ph             # IRQ/INTR counters
names = {e["args"]["name"] for e in ev if e["ph"] == "M"}
assert "vCPU 0 exits" in names and "com1" in names and "pit" in names, names
assert all(e["ts"] >= 0 for e in ev if "ts" in e)
PY
check "perfetto JSON: valid, one slice per exit, counters, device tracks" $?
expect_rc "export --perfetto of a missing file" 1 "$HVRR" export --perfetto "$dir/nope.hvt" -o "$dir/x.json"
expect_rc "export without a format" 2 "$HVRR" export "$t"

# several vCPUs: hvrr synth --vcpus (a replayable SMP capture), replay,
# stats, dump and the Perfetto export per vCPU
s=$dir/smp.hvt
expect_rc "synth --vcpus 2" 0 "$HVRR" synth --vcpus 2 -e 8000 -c 1000 -o "$s"
expect_rc "replay of the SMP capture" 0 "$HVRR" replay "$s"
grep -q '^result: 0 divergences' "$dir/out"; check "SMP capture: 0 divergences" $?
grep -qE '^vcpus: 2; exits vcpu 0 [1-9][0-9]*, vcpu 1 [1-9][0-9]*; [1-9][0-9]* switches; 1 vCPU starts checked' "$dir/out"
check "replay summary per vCPU" $?
cp "$dir/out" "$dir/smp1"
expect_rc "replay of the SMP capture again" 0 "$HVRR" replay "$s"
cmp -s "$dir/out" "$dir/smp1"; check "two SMP replays print the same bytes" $?
expect_rc "stats of the SMP capture" 0 "$HVRR" stats "$s"
grep -q '^exits by vCPU' "$dir/out" && grep -qE '^  vcpu 1 +[1-9][0-9]* ' "$dir/out" &&
    grep -q '^vCPU starts    1: vcpu 1 at SIPI vector 0x9f' "$dir/out"
check "stats: exits per vCPU, vCPU starts" $?
expect_rc "dump of the SMP capture" 0 "$HVRR" dump "$s"
grep -qE '^ +[0-9]+ cpu1 ' "$dir/out" && grep -q 'cpu-start vcpu 1 at SIPI vector 0x9f (CS:IP 9f00:0000)' "$dir/out"
check "dump: vcpu column, CpuStart" $?
expect_rc "export --perfetto of the SMP capture" 0 "$HVRR" export --perfetto "$s" -o "$dir/smp.json"
python3 - "$dir/smp.json" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
assert sum(1 for e in ev if e["ph"] == "X") == 8000
tracks = {e["args"]["name"] for e in ev if e["ph"] == "M"}
assert {"vCPU 0 exits", "vCPU 1 exits"} <= tracks, tracks
counters = {e["name"] for e in ev if e["ph"] == "C"}
assert {"vCPU 0 INTR", "vCPU 1 INTR"} <= counters, counters
assert any(e.get("name") == "start at SIPI vector 0x9f" and e["tid"] == 1 for e in ev)
PY
check "perfetto: a track and an INTR counter per vCPU, the start on vCPU 1's track" $?
expect_rc "synth --vcpus 5" 2 "$HVRR" synth --vcpus 5 -o "$dir/x.hvt"
expect_rc "synth --vcpus with --craft" 2 "$HVRR" synth --vcpus 2 --craft vcpu -o "$dir/x.hvt"

echo "replay-cli-test: $passes passed, $fails failed"
[ "$fails" -eq 0 ]

#!/usr/bin/env bash
# End-to-end: the Multiboot test kernel (tests/mbkernel) under hvrr.
#   tests/e2e/run-multiboot.sh HVRR HV.elf MBKERNEL.elf MBKERNEL-AOUT.elf MBKERNEL-MB2.elf MBMOD.bin OUTDIR TIMEOUT_S
# 1. the Multiboot 1 ELF kernel, recorded: every check PASSes, it ends with
#    isa-debug-exit value 0 (hv: RESULT PASS), its trace ends with reason
#    debug-exit, matches the hv's exit counts and replays with 0 divergences;
# 2. the Multiboot 2 build, recorded, with 32 MiB: the same, through the v2
#    header and information tags;
# 3. the a.out-kludge build, told to expect other RAM than it gets: loaded
#    through the kludge, every other check PASSes, its mem-upper check
#    FAILs, it exits with value 1, the hv says RESULT FAIL.
set -uo pipefail
hvrr=$1 hv=$2 kernel=$3 aout=$4 mb2=$5 mod=$6 out=$7 tmo=$8
start=$(date +%s.%N)
bad=0 why=()

# run NAME KERNEL MEM_MIB EXPECT_MIB RECORD(0|1): run-multiboot.sh's status
run() {
    local d=$out/$1 rec= rc
    rm -f "$d/com2.out"
    [ "$5" = 1 ] && rec="record=stream checkpoint=256"
    MB_QUIET=1 MB_TIMEOUT=$tmo MB_HV_ARGS="mem=$3M $rec" HVRR_COM2=$d/com2.out \
        scripts/run-multiboot.sh "$hv" "$d" "$2" "mbkernel.elf check=cmdline-ok mem_mib=$4" \
        "$mod=mbmod.bin tag=hello"
    rc=$?
    grep -a -E '^(mbkernel|FAIL|hvrr: (multiboot|RESULT))' "$d/com1.log"
    return $rc
}

# passes NAME LOADLINE: 18 PASS lines, RESULT PASS, the trace checked
passes() {
    local d=$out/$1 n
    n=$(grep -ac '^PASS ' "$d/com1.log")
    grep -aq "^hvrr: multiboot: $2 kernel" "$d/com1.log" || { bad=1; why+=("$1: not loaded as $2"); }
    grep -aq '^hvrr: RESULT PASS multiboot debug-exit 0x0 ' "$d/com1.log" || { bad=1; why+=("$1: no RESULT PASS"); }
    grep -aq '^FAIL' "$d/com1.log" && { bad=1; why+=("$1: FAIL lines"); }
    [ "$n" = 18 ] || { bad=1; why+=("$1: $n PASS lines, want 18"); }
    tests/e2e/check-trace.sh "$hvrr" "$d/com1.log" "$d/com2.out" "$d/traces" || { bad=1; why+=("$1: trace"); }
    "$hvrr" stats "$d/traces/trace-0.hvt" 2>/dev/null | grep -q 'reason debug-exit' ||
        { bad=1; why+=("$1: trace does not end with reason debug-exit"); }
}

run pass "$kernel" 64 64 1
passes pass "v1 ELF32"
run mb2 "$mb2" 32 32 1
passes mb2 "v2 ELF32"
d=$out/fail
run fail "$aout" 64 128 0 && { bad=1; why+=("wrong-RAM run passed"); }
grep -aq '^hvrr: multiboot: v1 a.out-kludge kernel' "$d/com1.log" || { bad=1; why+=("not loaded as a.out"); }
[ "$(grep -ac '^PASS ' "$d/com1.log")" = 17 ] &&
    [ "$(grep -a '^FAIL' "$d/com1.log")" = "FAIL mem-upper: got 0x0000fc00" ] &&
    grep -aq '^hvrr: RESULT FAIL multiboot debug-exit 0x1 ' "$d/com1.log" ||
    { bad=1; why+=("wrong-RAM run: not 17 PASS, 'FAIL mem-upper' and RESULT FAIL debug-exit 0x1"); }
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
if [ $bad = 0 ]; then
    printf 'e2e-multiboot: PASS, v1 ELF and v2 kernels: 18 checks each, traces replayed; a.out kernel: its failure reported; %.1f s\n' "$secs"
    exit 0
fi
echo "---- serial logs ----"
for r in pass mb2 fail; do tail -40 "$out/$r/com1.log" 2>/dev/null; done
printf 'e2e-multiboot: FAIL (%s) after %.1f s\n' "$(IFS=';'; echo "${why[*]}")" "$secs"
exit 1

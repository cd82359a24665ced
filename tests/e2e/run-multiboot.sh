#!/usr/bin/env bash
# End-to-end: the Multiboot test kernel (tests/mbkernel) under hvrr.
#   tests/e2e/run-multiboot.sh HVRR HV.elf MBKERNEL.elf MBKERNEL-AOUT.elf MBMOD.bin OUTDIR TIMEOUT_S
# 1. recorded boot: every check of the kernel PASSes, it ends with
#    isa-debug-exit value 0 (hv: RESULT PASS), its trace ends with reason
#    debug-exit, matches the hv's exit counts and replays with 0 divergences;
# 2. the a.out-kludge build of the same kernel, told to expect other RAM
#    than it gets: loaded through the kludge, every other check PASSes, its
#    mem-upper check FAILs, it exits with value 1, the hv says RESULT FAIL.
set -uo pipefail
hvrr=$1 hv=$2 kernel=$3 aout=$4 mod=$5 out=$6 tmo=$7
start=$(date +%s.%N)
bad=0 why=()
d=$out/pass
rm -f "$d/com2.out"
MB_QUIET=1 MB_TIMEOUT=$tmo MB_HV_ARGS="mem=64M record=stream checkpoint=256" HVRR_COM2=$d/com2.out \
    scripts/run-multiboot.sh "$hv" "$d" "$kernel" "mbkernel.elf check=cmdline-ok mem_mib=64" \
    "$mod=mbmod.bin tag=hello"
log=$d/com1.log
npass=$(grep -ac '^PASS ' "$log")
grep -a -E '^(mbkernel|PASS|FAIL|hvrr: (multiboot|RESULT))' "$log"
grep -aq '^hvrr: RESULT PASS multiboot debug-exit 0x0 ' "$log" || { bad=1; why+=("no RESULT PASS"); }
grep -aq '^FAIL' "$log" && { bad=1; why+=("FAIL lines"); }
[ "$npass" = 18 ] || { bad=1; why+=("$npass PASS lines, want 18"); }
if [ $bad = 0 ]; then
    tests/e2e/check-trace.sh "$hvrr" "$log" "$d/com2.out" "$d/traces" || { bad=1; why+=("trace"); }
    "$hvrr" stats "$d/traces/trace-0.hvt" | grep -q 'reason debug-exit' ||
        { bad=1; why+=("trace does not end with reason debug-exit"); }
fi
d=$out/fail
MB_QUIET=1 MB_TIMEOUT=$tmo MB_HV_ARGS="mem=64M" \
    scripts/run-multiboot.sh "$hv" "$d" "$aout" "mbkernel.elf check=cmdline-ok mem_mib=128" \
    "$mod=mbmod.bin tag=hello" && { bad=1; why+=("wrong-RAM run passed"); }
grep -a -E '^(FAIL|hvrr: (multiboot:|RESULT))' "$d/com1.log"
grep -aq '^hvrr: multiboot: a.out-kludge kernel' "$d/com1.log" || { bad=1; why+=("not loaded as a.out"); }
[ "$(grep -ac '^PASS ' "$d/com1.log")" = 17 ] && [ "$(grep -a '^FAIL' "$d/com1.log")" = "FAIL mem-upper: got 0x0000fc00" ] &&
    grep -aq '^hvrr: RESULT FAIL multiboot debug-exit 0x1 ' "$d/com1.log" ||
    { bad=1; why+=("wrong-RAM run: not 17 PASS, 'FAIL mem-upper' and RESULT FAIL debug-exit 0x1"); }
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
if [ $bad = 0 ]; then
    printf 'e2e-multiboot: PASS, ELF32 kernel: %d checks passed, trace replayed; a.out kernel: its failure reported, %.1f s\n' \
        "$npass" "$secs"
    exit 0
fi
echo "---- serial logs ----"
tail -60 "$out/pass/com1.log" "$out/fail/com1.log" 2>/dev/null
printf 'e2e-multiboot: FAIL (%s) after %.1f s\n' "$(IFS=';'; echo "${why[*]}")" "$secs"
exit 1

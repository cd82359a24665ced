#!/usr/bin/env bash
# Soak of the hostile guest (tests/guests/hostile.S) with other seeds: N
# variants of OPS operations each, one VM per variant in one Bochs boot,
# recorded; every VM must end by its own power-off and every trace must
# replay with 0 divergences (tests/e2e/check-trace.sh).
#   tests/e2e/run-hostile-soak.sh HVRR HV.elf OUTDIR SEEDS OPS TIMEOUT_S
set -uo pipefail
hvrr=$1 elf=$2 out=$3 n=$4 ops=$5 tmo=$6
rm -rf "$out" && mkdir -p "$out/guests" "$out/traces"
: >"$out/guests.list"
for i in $(seq 1 "$n"); do
    g=$out/guests/h$i
    cc -c -nostdlib -ffreestanding -Itests/guests -DOPS="$ops" -DSEED=$((0x1000193 * i + 7)) \
        tests/guests/hostile.S -o "$g.o" &&
        ld -nostdlib -static -T tests/guests/guest.ld -o "$g.elf" "$g.o" &&
        objcopy -O binary "$g.elf" "$g.bin" || exit 1
    echo "h$i poweroff" >>"$out/guests.list"
done
scripts/mkiso-vm.sh "$out/soak.iso" "$elf" "hv=tests poweroff=1 record=stream checkpoint=256" \
    "$out/guests.list" "$out/guests" || exit 1
HVRR_COM2=$out/com2.out scripts/run-vm.sh "$out/soak.iso" "$out/com1.raw" "$tmo"
tr -d '\r' <"$out/com1.raw" >"$out/com1.log"
grep -a -E '^hostile ops|^hvrr: GUEST h[0-9]+ (PASS|FAIL)' "$out/com1.log"
grep -aq "^hvrr: RESULT PASS $n/$n" "$out/com1.log" || { echo "hostile-soak: FAIL (see $out/com1.log)"; exit 1; }
tests/e2e/check-trace.sh "$hvrr" "$out/com1.log" "$out/com2.out" "$out/traces" || exit 1
echo "hostile-soak: PASS, $n seeds x $ops operations"

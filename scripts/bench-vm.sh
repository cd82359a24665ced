#!/usr/bin/env bash
# VM-exit round trips per second under Bochs (or QEMU+KVM): wall time of a
# guest looping N times on `out 0x80` minus the same boot with no loop, and
# the same loop run by the hypervisor itself without VMX.
#   scripts/bench-vm.sh HV.elf GUEST_DIR OUTDIR [N]
set -uo pipefail
elf=$1 gdir=$2 out=$3 n=${4:-300000}
mkdir -p "$out"
printf 'bench0 poweroff\n' >"$out/bench0.list"
printf 'bench poweroff\n' >"$out/bench.list"
scripts/mkiso-vm.sh "$out/base.iso" "$elf" "hv=tests poweroff=1" "$out/bench0.list" "$gdir" || exit 1
scripts/mkiso-vm.sh "$out/loop.iso" "$elf" "hv=tests poweroff=1" "$out/bench.list" "$gdir" || exit 1
scripts/mkiso-vm.sh "$out/native.iso" "$elf" "hv=tests poweroff=1 bench=native:$n" \
    "$out/bench0.list" "$gdir" || exit 1

# Prints "wall_s cpu_s" of one boot; CPU time (user+sys of Bochs) is what
# the figures use, as the machine may be shared.
run() {
    local t
    TIMEFORMAT='%R %U %S'
    t=$({ time scripts/run-vm.sh "$out/$1.iso" "$out/$1.log" 300 2>/dev/null; } 2>&1)
    grep -aq '^hvrr: RESULT PASS' "$out/$1.log" || { echo "bench-vm: $1 run failed" >&2; tr -d '\r' <"$out/$1.log" | tail -20 >&2; return 1; }
    echo "$t" | awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }'
}
read -r wb cb < <(run base) || exit 1
read -r wl cl < <(run loop) || exit 1
read -r wn cn < <(run native) || exit 1
read -r wb2 cb2 < <(run base) || exit 1
[ -n "$cb" ] && [ -n "$cl" ] && [ -n "$cn" ] && [ -n "$cb2" ] || exit 1
tb=$(awk -v a="$cb" -v b="$cb2" 'BEGIN { printf "%.3f", (a < b ? a : b) }')
tl=$cl tn=$cn
per_exit=$(tr -d '\r' <"$out/loop.log" | sed -n 's/.*(\([0-9]*\) per exit).*/\1/p' | head -1)
nat=$(tr -d '\r' <"$out/native.log" | sed -n 's/.*ticks, \([0-9]*\) ticks each.*/\1/p' | head -1)
echo "bench-exits: wall s: base $wb/$wb2, loop $wl, native $wn; CPU s: base $cb/$cb2, loop $cl, native $cn"
awk -v n="$n" -v tb="$tb" -v tl="$tl" -v tn="$tn" -v pe="$per_exit" -v nat="$nat" 'BEGIN {
    dl = tl - tb; dn = tn - tb;
    printf "bench-exits: boot without load %.2f CPU s; %d x out 0x80 in a guest: +%.2f CPU s, in the hv without VMX: +%.2f CPU s\n", tb, n, dl, dn;
    if (dl > 0) printf "bench-exits: %.0f VM-exit round trips/s under hvrr (%.1f us each, %s emulated TSC ticks each)\n", n / dl, dl * 1e6 / n, pe;
    if (dn > 0) printf "bench-exits: %.0f out 0x80/s without hvrr (%.2f us each, %s TSC ticks each)\n", n / dn, dn * 1e6 / n, nat;
    else printf "bench-exits: out 0x80 without hvrr: below measurement noise (%s TSC ticks each)\n", nat;
}'

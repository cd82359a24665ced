#!/usr/bin/env bash
# Boot a Multiboot (v1 or v2) kernel under hvrr (guest=multiboot) on Bochs or
# QEMU+KVM and print the serial log (docs/hypervisor.md, "Multiboot guests").
#   scripts/run-multiboot.sh HV.elf OUTDIR KERNEL "KERNEL CMDLINE" [MODULE="STRING"]...
# Environment: MB_HV_ARGS (more hv options, e.g. "pass_status=0x10 mem=256M
# record=stream"), MB_TIMEOUT (seconds, default 300), HVRR_COM2 (keep the
# trace port's output), MB_QUIET=1 (no log on stdout).
# Exit status: 0 if the hv printed "RESULT PASS", 1 otherwise.
set -uo pipefail
[ $# -ge 4 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
hv=$1 out=$2 kernel=$3 kcmd=$4
shift 4
[ -r "$kernel" ] || { echo "run-multiboot: cannot read kernel '$kernel'" >&2; exit 2; }
mkdir -p "$out"
mods=("$kernel=$kcmd")
for m in "$@"; do
    f=${m%%=*}
    [ -r "$f" ] || { echo "run-multiboot: cannot read module '$f'" >&2; exit 2; }
    mods+=("$m")
done
scripts/mkiso-vm.sh "$out/multiboot.iso" "$hv" "guest=multiboot poweroff=1 ${MB_HV_ARGS:-}" - - \
    "${mods[@]}" || exit 1
scripts/run-vm.sh "$out/multiboot.iso" "$out/com1.raw" "${MB_TIMEOUT:-300}"
tr -d '\r' <"$out/com1.raw" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' >"$out/com1.log"
[ "${MB_QUIET:-0}" = 1 ] || grep -av '^\s*$' "$out/com1.log"
grep -aq '^hvrr: RESULT PASS' "$out/com1.log"

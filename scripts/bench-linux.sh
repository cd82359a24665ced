#!/usr/bin/env bash
# Linux boot wall time under hvrr on Bochs against the same kernel, initramfs
# and command line booted by GRUB directly on Bochs (no hvrr), in one run:
# same Bochs CPU model and ips (scripts/run-vm.sh), guest RAM 128 MiB in both.
# Prints each wall time (Bochs start to exit: BIOS, GRUB, decompression,
# boot, test init, power-off), their ratio (goal <= 1.5) and the kernel's own
# timestamp of "Run /init as init process" (guest time to init).
# Bochs' hardware is not hvrr's platform: natively Linux sees Bochs' local
# APIC, IOAPIC, ACPI, HPET-less PIIX4 chipset and powers off through ACPI;
# under hvrr it sees the hv's no-APIC legacy devices, and in a third boot
# the hv's APIC platform (apic=1: local APIC, I/O APIC, ACPI tables).
#   scripts/bench-linux.sh HV.elf VLBL BZIMAGE INITRD "KERNEL CMDLINE" OUTDIR [TIMEOUT_S]
set -euo pipefail
elf=$1 vlbl=$2 bz=$3 initrd=$4 kcmd=$5 out=$6 tmo=${7:-1200}
mkdir -p "$out"

scripts/mkiso-vm.sh "$out/hvrr.iso" "$elf" "guest=linux poweroff=1 mem=128M cmdline=$kcmd" - - \
    "$vlbl=vlbl" "$bz=bzImage" "$initrd=initrd"
scripts/mkiso-vm.sh "$out/hvrr-apic.iso" "$elf" "guest=linux poweroff=1 mem=128M apic=1 cmdline=$kcmd" - - \
    "$vlbl=vlbl" "$bz=bzImage" "$initrd=initrd"

# The direct ISO: GRUB's own Linux loader, console on COM1 like hvrr's.
dir=$(mktemp -d "${TMPDIR:-/tmp}/hvrr-direct.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/root/boot/grub"
cp "$bz" "$dir/root/boot/bzImage"
cp "$initrd" "$dir/root/boot/initrd.gz"
cat >"$dir/root/boot/grub/grub.cfg" <<CFG
set timeout=0
set default=0
serial --unit=0 --speed=115200
terminal_output serial
menuentry linux-direct {
  linux /boot/bzImage $kcmd
  initrd /boot/initrd.gz
  boot
}
CFG
grub-mkrescue -o "$out/direct.iso" "$dir/root" >"$dir/mkrescue.log" 2>&1 || {
    cat "$dir/mkrescue.log" >&2; exit 1; }

# wall seconds of one boot; fails unless the test init finished.
boot() { # NAME MEM_MB
    local t0 t1
    t0=$(date +%s.%N)
    HVRR_VM=bochs HVRR_MEM_MB=$2 scripts/run-vm.sh "$out/$1.iso" "$out/$1.log" "$tmo" 2>/dev/null || true
    t1=$(date +%s.%N)
    grep -aq '^HVRR-TEST-DONE' "$out/$1.log" || {
        echo "bench-linux: $1 boot did not reach HVRR-TEST-DONE" >&2
        tr -d '\r' <"$out/$1.log" | tail -20 >&2
        return 1
    }
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }'
}
init_ts() { # the kernel timestamp of "Run /init as init process"
    tr -d '\r' <"$1" | sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' | head -1
}
w_hv=$(boot hvrr 512)
w_apic=$(boot hvrr-apic 512)
w_dir=$(boot direct 128)
g_hv=$(init_ts "$out/hvrr.log") g_dir=$(init_ts "$out/direct.log")
exits=$(tr -d '\r' <"$out/hvrr.log" | sed -n 's/^hvrr: EXIT-COUNTS total=\([0-9]*\).*/\1/p')
exits_apic=$(tr -d '\r' <"$out/hvrr-apic.log" | sed -n 's/^hvrr: EXIT-COUNTS total=\([0-9]*\).*/\1/p')
echo "bench-linux: Linux $(cat "$(dirname "$bz")/kernel-version" 2>/dev/null || echo '?') + test initramfs, cmdline '$kcmd', Bochs corei7_skylake_x ips ${HVRR_BOCHS_IPS:-50000000}, 128 MiB guest RAM"
echo "bench-linux: boot to power-off wall time: under hvrr ${w_hv} s ($exits exits), GRUB direct on Bochs ${w_dir} s"
echo "bench-linux: under hvrr with apic=1 (local APIC + I/O APIC, every APIC access an MMIO exit): ${w_apic} s ($exits_apic exits) against ${w_hv} s without"
awk -v a="$w_apic" -v b="$w_hv" 'BEGIN { printf "bench-linux: ratio apic=1/no-APIC %.2f\n", a / b }'
awk -v a="$w_hv" -v b="$w_dir" 'BEGIN { printf "bench-linux: ratio hvrr/direct %.2f (goal <= 1.5)\n", a / b }'
echo "bench-linux: guest time to 'Run /init' (kernel timestamps): under hvrr ${g_hv:-?} s, direct ${g_dir:-?} s"
f_dir=$(tr -d '\r' <"$out/direct.log" | sed -n 's/.*tsc: Detected \([0-9.]*\) MHz processor.*/\1/p' | head -1)
echo "bench-linux: note: kernel timestamps count TSC ticks at the frequency CPUID claims: ${f_dir:-?} MHz on bare Bochs (its TSC follows the emulated clock, ips-based), the hv's PIT-calibrated 50 MHz under hvrr; guest times are not comparable, wall times are"
echo "bench-linux: note: Bochs' own platform (local APIC, IOAPIC, ACPI power-off) differs from hvrr's no-APIC legacy devices"

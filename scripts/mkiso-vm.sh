#!/usr/bin/env bash
# Build a BIOS-bootable GRUB ISO holding hv.elf and guest modules.
#   scripts/mkiso-vm.sh OUT.iso HV.elf "HV ARGS" [GUEST_LIST GUEST_DIR [FILE=ARGS]...]
# GUEST_LIST: lines "name expect" (# comments allowed; "-" for none); each
# guest GUEST_DIR/name.bin becomes
#   module2 /boot/guests/name.bin name=NAME expect=EXPECT
# Each FILE=ARGS after that adds `module2 --nounzip /boot/mods/BASENAME ARGS` (e.g. the
# Linux guest's vlbl.bin=vlbl bzImage=bzImage initrd.cpio.gz=initrd).
set -euo pipefail
out=$1 elf=$2 args=$3 list=${4:-} gdir=${5:-}
shift $(($# < 5 ? $# : 5))
dir=$(mktemp -d "${TMPDIR:-/tmp}/hvrr-iso.XXXXXX")
trap 'rm -rf "$dir"' EXIT
root=$dir/root
mkdir -p "$root/boot/grub" "$root/boot/guests" "$root/boot/mods"
cp "$elf" "$root/boot/hv.elf"
{
    echo "set timeout=0"
    echo "set default=0"
    echo "serial --unit=0 --speed=115200"
    echo "terminal_output serial"
    echo "menuentry hvrr {"
    echo "  multiboot2 /boot/hv.elf $args"
    if [ -n "$list" ] && [ "$list" != - ]; then
        while read -r name expect rest; do
            case "$name" in ''|\#*) continue ;; esac
            cp "$gdir/$name.bin" "$root/boot/guests/$name.bin"
            echo "  module2 /boot/guests/$name.bin name=$name expect=$expect $rest"
        done <"$list"
    fi
    for m in "$@"; do
        f=${m%%=*} a=${m#*=}
        cp "$f" "$root/boot/mods/$(basename "$f")"
        echo "  module2 --nounzip /boot/mods/$(basename "$f") $a"
    done
    echo "  boot"
    echo "}"
} >"$root/boot/grub/grub.cfg"
grub-mkrescue -o "$out" "$root" >"$dir/mkrescue.log" 2>&1 || { cat "$dir/mkrescue.log" >&2; exit 1; }

#!/usr/bin/env bash
# Install the Debian packages hvrr needs, only those missing.
#   scripts/deps.sh [build|vm|guest|all]...   (default: all)
# build: compilers' libraries for the host tools and unit tests (python3: the mutants script)
# vm:    Bochs/QEMU/GRUB to build the ISO and run the hypervisor; socat bridges
#        the terminal to Bochs' COM1 socket (make run)
# guest: what the Linux guest image is built from (busybox, cpio; the kernel
#        .deb itself is fetched with `apt-get download` by guest/mkguest.sh)
set -euo pipefail

pkgs_build="gcc make binutils libc6-dev libprotobuf-c-dev protobuf-c-compiler libzstd-dev libcmocka-dev python3"
pkgs_vm="bochs bochsbios vgabios grub-pc-bin grub-common xorriso mtools qemu-system-x86 socat"
pkgs_guest="busybox-static cpio gzip dpkg"

want=""
[ $# -eq 0 ] && set -- all
for g in "$@"; do
    case "$g" in
    build) want="$want $pkgs_build" ;;
    vm) want="$want $pkgs_vm" ;;
    guest) want="$want $pkgs_guest" ;;
    all) want="$want $pkgs_build $pkgs_vm $pkgs_guest" ;;
    *) echo "deps.sh: unknown group '$g' (use build, vm, guest or all)" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *" installed") ;; *) missing="$missing $p" ;; esac
done
missing=$(echo $missing | tr ' ' '\n' | sort -u | tr '\n' ' ')
[ -z "${missing// /}" ] && exit 0

echo "deps.sh: missing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "deps.sh: not root and no password-less sudo; run this yourself, then retry:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
        exit 1
    fi
else
    SUDO=""
fi
echo "deps.sh: running apt-get install -y$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q $missing; then
    echo "deps.sh: install failed; refreshing package lists and retrying" >&2
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q $missing
fi

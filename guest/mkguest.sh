#!/usr/bin/env bash
# Build the hvrr Linux guest image (docs/guest-image.md).
#   guest/mkguest.sh kernel OUTDIR          -> OUTDIR/bzImage, OUTDIR/kernel-version
#   guest/mkguest.sh initrd shell|test|reboot OUT  -> OUT (gzip'd newc cpio)
# The kernel is Debian 12's current linux-image-amd64 target, fetched with
# `apt-get download` into OUTDIR/cache (never installed). A .deb already in
# OUTDIR/cache, in $HVRR_KERNEL_DEB_DIR or in /var/cache/apt/archives is reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "mkguest.sh: $*" >&2; exit 1; }
TMPD=""
trap '[ -z "$TMPD" ] || rm -rf "$TMPD"' EXIT

kernel_pkg() {
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
    if [ -z "$pkg" ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "mkguest.sh: apt knows no linux-image-amd64; refresh the package lists as root:" >&2
            echo "  sudo apt-get update" >&2
            exit 1
        fi
        echo "mkguest.sh: apt-get update (no linux-image-amd64 in the package lists)" >&2
        apt-get update -q >&2
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
    fi
    [ -n "$pkg" ] || die "cannot tell which kernel package linux-image-amd64 depends on"
    echo "$pkg"
}

build_kernel() {
    local out=$1 cache pkg deb d f tmp
    cache=$out/cache
    mkdir -p "$cache"
    pkg=$(kernel_pkg)
    deb=""
    for d in "$cache" ${HVRR_KERNEL_DEB_DIR:-} /var/cache/apt/archives; do
        for f in "$d/${pkg}"_*_amd64.deb; do
            [ -f "$f" ] && deb=$f
        done
        [ -n "$deb" ] && break
    done
    if [ -z "$deb" ]; then
        echo "mkguest.sh: apt-get download $pkg" >&2
        (cd "$cache" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
        for f in "$cache/${pkg}"_*_amd64.deb; do [ -f "$f" ] && deb=$f; done
        [ -n "$deb" ] || die "apt-get download left no ${pkg}_*_amd64.deb in $cache"
    else
        echo "mkguest.sh: using $deb" >&2
    fi
    tmp=$(mktemp -d "$out/unpack.XXXXXX")
    TMPD=$tmp
    # The package is linux-image-VERSION; stop reading the (large) data
    # archive once ./boot/vmlinuz-VERSION is out (dpkg-deb then gets SIGPIPE).
    dpkg-deb --fsys-tarfile "$deb" 2>/dev/null |
        tar -x -C "$tmp" --occurrence=1 "./boot/vmlinuz-${pkg#linux-image-}" 2>/dev/null || true
    set -- "$tmp"/boot/vmlinuz-*
    [ $# -eq 1 ] && [ -f "$1" ] || die "no single boot/vmlinuz-* in $deb"
    cp "$1" "$out/bzImage.tmp"
    mv "$out/bzImage.tmp" "$out/bzImage"
    basename "$1" | sed 's/^vmlinuz-//' >"$out/kernel-version"
    echo "mkguest.sh: $out/bzImage = Linux $(cat "$out/kernel-version") from $(basename "$deb")" >&2
}

build_initrd() {
    local kind=$1 out=$2 bb root a
    [ -f "$here/initrd/init-$kind.sh" ] || die "initrd kind must be shell, test or reboot (guest/initrd/init-KIND.sh)"
    bb=/bin/busybox
    [ -x "$bb" ] || die "no $bb (Debian package busybox-static; run make deps-guest)"
    file -L "$bb" 2>/dev/null | grep -q 'dynamically linked' && die "$bb is not static (install busybox-static)"
    root=$(mktemp -d "${out}.root.XXXXXX")
    TMPD=$root
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc}
    cp "$bb" "$root/bin/busybox"
    # One symlink per applet; perl (Essential in Debian) makes them in one
    # process instead of ~400 ln runs.
    if command -v perl >/dev/null; then
        "$bb" --list | grep -vx busybox |
            perl -e '$d = shift; while (<STDIN>) { chomp; symlink("busybox", "$d/$_") or die "symlink $_: $!\n" }' "$root/bin"
    else
        for a in $("$bb" --list | grep -vx busybox); do ln -s busybox "$root/bin/$a"; done
    fi
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    { cat "$here/initrd/init-common.sh"; cat "$here/initrd/init-$kind.sh"; } >"$root/init"
    chmod 755 "$root/init"
    find "$root" -exec touch -h -d @0 {} +
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n >"$out.tmp"
    mv "$out.tmp" "$out"
    echo "mkguest.sh: $out ($kind init, $(stat -c %s "$out") bytes)" >&2
}

case "${1:-}" in
kernel) [ $# -eq 2 ] || die "usage: $0 kernel OUTDIR"; mkdir -p "$2"; build_kernel "$2" ;;
initrd) [ $# -eq 3 ] || die "usage: $0 initrd shell|test|reboot OUT"; mkdir -p "$(dirname "$3")"; build_initrd "$2" "$3" ;;
*) die "usage: $0 kernel OUTDIR | initrd shell|test OUT" ;;
esac

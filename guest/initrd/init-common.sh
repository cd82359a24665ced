#!/bin/sh
# /init prologue shared by the hvrr guest initramfs images (docs/guest-image.md).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
echo "HVRR-GUEST-READY"

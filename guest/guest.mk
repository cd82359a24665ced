# guest/: the Linux guest image (kernel, initramfs) and vlbl, the minimal
# real-mode loader; QEMU-based validation without the hypervisor.
# docs/guest-image.md, docs/vlbl.md.
GUEST_OUT     := $(BUILD)/guest
GUEST_KERNEL  := $(GUEST_OUT)/bzImage
GUEST_INITRDS := $(GUEST_OUT)/initrd-shell.cpio.gz $(GUEST_OUT)/initrd-test.cpio.gz
VLBL_BIN      := $(GUEST_OUT)/vlbl.bin
QEMU_SHIM     := $(GUEST_OUT)/qemu-shim.elf

# vlbl: 16-bit real-mode code (gcc -m16), flat binary linked at 0x8000.
VLBL_SRCS  := guest/vlbl/entry.S guest/vlbl/vlbl.c guest/vlbl/bios.c guest/vlbl/console.c guest/vlbl/lib.c
VLBL_OBJS  := $(patsubst guest/vlbl/%,$(GUEST_OUT)/vlbl/%.o,$(VLBL_SRCS))
VLBL_CFLAGS := -std=gnu11 $(WARN) -m16 -march=i686 -Os -ffreestanding -fno-builtin -nostdlib \
               -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
               -fno-delete-null-pointer-checks -fno-strict-aliasing -mgeneral-regs-only \
               -fcf-protection=none --param=min-pagesize=0 -I.

# vlbl-probe: a fake bzImage whose setup code checks vlbl's hand-over and BIOS.
PROBE_SRCS := guest/vlbl/probe/entry.S guest/vlbl/probe/probe.c
PROBE_OBJS := $(patsubst guest/vlbl/probe/%,$(GUEST_OUT)/probe/%.o,$(PROBE_SRCS))
VLBL_PROBE := $(GUEST_OUT)/vlbl-probe.bin

# QEMU shim: 32-bit multiboot v1 ELF that stands in for the hypervisor.
SHIM_SRCS  := guest/vlbl/qemu-shim/entry.S guest/vlbl/qemu-shim/shim.c
SHIM_OBJS  := $(patsubst guest/vlbl/qemu-shim/%,$(GUEST_OUT)/qemu-shim/%.o,$(SHIM_SRCS))
SHIM_CFLAGS := -std=gnu11 $(WARN) -m32 -march=i686 -O2 -ffreestanding -fno-builtin -nostdlib \
               -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
               -fno-delete-null-pointer-checks -mgeneral-regs-only -fcf-protection=none --param=min-pagesize=0 -I.

.PHONY: guest guest-vlbl guest-qemu-test guest-qemu-shell
guest: $(VLBL_BIN) $(GUEST_KERNEL) $(GUEST_INITRDS)
guest-vlbl: $(VLBL_BIN) $(QEMU_SHIM) $(VLBL_PROBE)
ALL_TARGETS += $(VLBL_BIN) $(QEMU_SHIM) $(VLBL_PROBE)

$(GUEST_OUT)/vlbl/%.o: guest/vlbl/% guest/vlbl/vlbl.h guest/vlbl/bootinfo.h hv/portio.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(VLBL_CFLAGS) -c $< -o $@
$(GUEST_OUT)/vlbl.elf: $(VLBL_OBJS) guest/vlbl/vlbl.ld
	$(Q)$(LD) -m elf_i386 -nostdlib -z noexecstack --no-warn-rwx-segments -T guest/vlbl/vlbl.ld -o $@ $(VLBL_OBJS)
$(VLBL_BIN): $(GUEST_OUT)/vlbl.elf
	$(Q)objcopy -O binary $< $@
	$(Q)sz=$$(stat -c %s $@); [ $$sz -le 32768 ] || { echo "vlbl.bin is $$sz bytes (max 32768)"; rm -f $@; exit 1; }

$(GUEST_OUT)/probe/%.o: guest/vlbl/probe/% guest/vlbl/bootinfo.h hv/portio.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(VLBL_CFLAGS) -c $< -o $@
$(GUEST_OUT)/vlbl-probe.elf: $(PROBE_OBJS) guest/vlbl/probe/probe.ld
	$(Q)$(LD) -m elf_i386 -nostdlib -z noexecstack --no-warn-rwx-segments -T guest/vlbl/probe/probe.ld -o $@ $(PROBE_OBJS)
$(VLBL_PROBE): $(GUEST_OUT)/vlbl-probe.elf
	$(Q)objcopy -O binary $< $@

$(GUEST_OUT)/qemu-shim/%.o: guest/vlbl/qemu-shim/% guest/vlbl/bootinfo.h hv/portio.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(SHIM_CFLAGS) -c $< -o $@
$(QEMU_SHIM): $(SHIM_OBJS) guest/vlbl/qemu-shim/shim.ld
	$(Q)$(LD) -m elf_i386 -nostdlib -z noexecstack --no-warn-rwx-segments -T guest/vlbl/qemu-shim/shim.ld -o $@ $(SHIM_OBJS)

# Kernel: Debian's current linux-image-amd64 target, downloaded once.
$(GUEST_KERNEL): | deps-guest
	$(Q)guest/mkguest.sh kernel $(GUEST_OUT)
$(GUEST_OUT)/initrd-%.cpio.gz: guest/mkguest.sh guest/initrd/init-common.sh guest/initrd/init-%.sh | deps-guest
	$(Q)guest/mkguest.sh initrd $* $@

# Validation without the hypervisor: QEMU TCG, the shim plays the hypervisor.
guest-qemu-test: deps-vm $(QEMU_SHIM) $(VLBL_BIN) $(VLBL_PROBE) $(GUEST_KERNEL) $(GUEST_OUT)/initrd-test.cpio.gz
	$(Q)guest/qemu-boot.sh probe $(GUEST_OUT)
	$(Q)guest/qemu-boot.sh test $(GUEST_OUT)
	$(Q)guest/qemu-boot.sh badkernel $(GUEST_OUT)
guest-qemu-shell: deps-vm $(QEMU_SHIM) $(VLBL_BIN) $(GUEST_KERNEL) $(GUEST_OUT)/initrd-shell.cpio.gz
	$(Q)guest/qemu-boot.sh shell $(GUEST_OUT)
TEST_TARGETS += guest-qemu-test

# Linux under hvrr end to end: e2e-linux, e2e-linux-input, run, bench-linux.
include guest/linux-vm.mk

# The bare-metal hypervisor (hv/ without hv/devs), its test guests, the GRUB
# ISO and the end-to-end tests under Bochs (or QEMU+KVM).
#
# hv.elf is linked at 1 MiB: our objects use -mcmodel=small -fno-pic instead
# of FREE_CFLAGS' -mcmodel=kernel. The device models come from devs.mk's
# $(DEVS_FREE_OBJS) (kernel model: its sign-extended 32-bit relocations also
# resolve below 2 GiB, so they link at 1 MiB unchanged).
HV_CFLAGS := $(filter-out -mcmodel=kernel,$(FREE_CFLAGS)) -mcmodel=small -fno-pic
HV_SRCS   := $(shell find hv \( -path hv/devs -o -path hv/record -o -path hv/rt \) -prune -o -name '*.c' -print | sort)
HV_ASRCS  := $(shell find hv \( -path hv/devs -o -path hv/record -o -path hv/rt \) -prune -o -name '*.S' -print | sort)
HV_OBJS   := $(HV_SRCS:%.c=$(BUILD)/hv/%.o) $(HV_ASRCS:%.S=$(BUILD)/hv/%.o)
HV_ELF    := $(BUILD)/hv/hv.elf
# hv code that is pure and unit-tested on the host too
LIB_SRCS  += hv/vcpu_sched.c

# The recorder (docs/hypervisor.md, "Recording"): hv/record (the convention
# shared with host-sim), the trace writer and its generated protobuf-c code,
# hv/rt (the libc bits the archives expect; hv/lib.c provides the memory and
# string functions, so rt.c leaves strlen out), and Debian's static archives.
HV_REC_SRCS := hv/record/recorder.c hv/rt/rt.c trace/trace_writer.c trace/trace_encode.c trace/trace_frame.c
HV_REC_OBJS := $(HV_REC_SRCS:%.c=$(BUILD)/hv/%.o) $(BUILD)/hv/gen/trace/hvrr.pb-c.o
HV_STATIC_LIBDIR ?= $(shell $(CC) -print-multiarch 2>/dev/null | sed 's|^|/usr/lib/|')
HV_REC_LIBS := $(HV_STATIC_LIBDIR)/libzstd.a $(HV_STATIC_LIBDIR)/libprotobuf-c.a
$(HV_REC_OBJS): $(TRACE_GEN_H)
# The trace header names the hv build and the device-model revision
# (git describe of the tree; last commit touching hv/devs, +dirty if edited).
# Rewritten only when the text changes, so nothing rebuilds needlessly.
HV_VERSION_H := $(BUILD)/gen/hv/version.h
.PHONY: hv-version-check
$(HV_VERSION_H): hv-version-check
	@mkdir -p $(@D)
	@b=$$(git describe --always --dirty 2>/dev/null || echo unknown); \
	d=$$(git log -1 --format=%h -- hv/devs 2>/dev/null); d=$${d:-unknown}; \
	git diff --quiet HEAD -- hv/devs 2>/dev/null || d=$$d+dirty; \
	printf '#define HV_BUILD_ID "%s"\n#define HV_DEVMODEL_VERSION "%s"\n' "$$b" "$$d" >$@.tmp; \
	cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/hv/hv/recording.o: $(HV_VERSION_H)
$(BUILD)/hv/hv/rt/rt.o: HV_CFLAGS += -DRT_HOST_HAS_STRLEN
$(BUILD)/hv/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(HV_CFLAGS) -Wno-unused-parameter $(DEPFLAGS) -c $< -o $@

$(BUILD)/hv/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(HV_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(BUILD)/hv/%.o: %.S
	@mkdir -p $(@D)
	$(Q)$(CC) $(HV_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(HV_ELF): $(HV_OBJS) $(HV_REC_OBJS) $(DEVS_FREE_OBJS) hv/hv.ld
	$(Q)$(LD) -n -nostdlib -static -z max-page-size=0x1000 --no-warn-rwx-segments -T hv/hv.ld -o $@ \
	    $(HV_OBJS) $(HV_REC_OBJS) $(DEVS_FREE_OBJS) --start-group $(HV_REC_LIBS) --end-group

# Test guests: flat real-mode binaries loaded at GPA 0x8000 (tests/guests/),
# written in assembly (NAME.S) or in C compiled for real mode (NAME.c, gcc
# -m16, tests/guests/guest.h; 32-bit ELF objects).
GUEST_SRCS := $(sort $(wildcard tests/guests/*.S))
GUEST_CSRCS := $(sort $(wildcard tests/guests/*.c))
GUEST_BINS := $(GUEST_SRCS:tests/guests/%.S=$(BUILD)/guests/%.bin) \
              $(GUEST_CSRCS:tests/guests/%.c=$(BUILD)/guests/%.bin)
GUEST_CFLAGS := -m16 -march=i686 -std=gnu11 -Os -Wall -Wextra -Werror -ffreestanding -fno-builtin \
    -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
    -mgeneral-regs-only -fno-tree-loop-distribute-patterns
$(BUILD)/guests/%.o: tests/guests/%.S $(wildcard tests/guests/*.inc)
	@mkdir -p $(@D)
	$(Q)$(CC) -c -nostdlib -ffreestanding -Itests/guests $< -o $@
$(BUILD)/guests/%.o: tests/guests/%.c tests/guests/guest.h tests/guests/apic_mmio.h hv/portio.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(GUEST_CFLAGS) -I. -Itests/guests -c $< -o $@
$(BUILD)/guests/%.bin: $(BUILD)/guests/%.o tests/guests/guest.ld
	$(Q)$(LD) $(if $(wildcard tests/guests/$*.c),-m elf_i386) -nostdlib -static -T tests/guests/guest.ld -o $(@:.bin=.elf) $<
	$(Q)objcopy -O binary $(@:.bin=.elf) $@
	@test $$(stat -c %s $@) -le 32768 || { echo "$@: larger than 32 KiB"; exit 1; }

# The Multiboot test kernel (tests/mbkernel: ELF32 at 1 MiB, booted by
# guest=multiboot; also built as an a.out-kludge and as a Multiboot 2
# kernel) and its module
# (byte i = 7 i + 3 mod 256, 5000 bytes).
MBK_CFLAGS := -m32 -std=gnu11 $(WARN) -O2 -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
              -fno-asynchronous-unwind-tables -mgeneral-regs-only -nostdlib
MBK_ELF := $(BUILD)/mbkernel/mbkernel.elf
MBK_AOUT := $(BUILD)/mbkernel/mbkernel-aout.elf
MBK_MB2 := $(BUILD)/mbkernel/mbkernel-mb2.elf
MBK_MOD := $(BUILD)/mbkernel/mbmod.bin
$(BUILD)/mbkernel/%.o: tests/mbkernel/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(MBK_CFLAGS) -I. $(DEPFLAGS) -c $< -o $@
$(BUILD)/mbkernel/%.o: tests/mbkernel/%.S
	@mkdir -p $(@D)
	$(Q)$(CC) -m32 $(DEPFLAGS) -c $< -o $@
$(BUILD)/mbkernel/boot-aout.o: tests/mbkernel/boot.S
	@mkdir -p $(@D)
	$(Q)$(CC) -m32 -DMB_AOUT $(DEPFLAGS) -c $< -o $@
$(BUILD)/mbkernel/boot-mb2.o: tests/mbkernel/boot.S
	@mkdir -p $(@D)
	$(Q)$(CC) -m32 -DMB2 $(DEPFLAGS) -c $< -o $@
$(BUILD)/mbkernel/mbkernel%elf: $(BUILD)/mbkernel/boot%o $(BUILD)/mbkernel/mbkernel.o \
	    tests/mbkernel/mbkernel.ld
	$(Q)$(LD) -m elf_i386 -nostdlib -static --no-warn-rwx-segments -T tests/mbkernel/mbkernel.ld \
	    -o $@ $(BUILD)/mbkernel/boot$*o $(BUILD)/mbkernel/mbkernel.o
$(MBK_MOD): hv/hv.mk
	@mkdir -p $(@D)
	$(Q)python3 -c 'import sys; sys.stdout.buffer.write(bytes((7 * i + 3) & 255 for i in range(5000)))' >$@
ALL_TARGETS += $(MBK_ELF) $(MBK_AOUT) $(MBK_MB2) $(MBK_MOD)

# The test ISO: hv.elf plus every test guest as a multiboot2 module.
# tests/guests/guests.list says, per guest, how the run must end.
ISO_DIR := $(BUILD)/iso
HV_ISO  := $(BUILD)/hvrr.iso
$(HV_ISO): $(HV_ELF) $(GUEST_BINS) tests/guests/guests.list scripts/mkiso-vm.sh hv/hv.mk
	$(Q)scripts/mkiso-vm.sh $@ $(HV_ELF) "hv=tests poweroff=1 $(E2E_RECORD)" tests/guests/guests.list $(BUILD)/guests

.PHONY: hv iso guests e2e bench-exits
hv: $(HV_ELF)
guests: $(GUEST_BINS)
iso: deps-vm $(HV_ISO)
ALL_TARGETS += $(HV_ELF) $(GUEST_BINS)

# The guests run recorded (trace on COM2, checkpoints every 256 exits); then
# tests/e2e/check-trace.sh compares each VM's trace with the hv's exit
# counters and replays it (0 divergences required). Then the Multiboot test
# kernel boots under guest=multiboot (e2e-multiboot, its own GRUB config).
E2E_TIMEOUT ?= 300
E2E_RECORD  ?= record=stream checkpoint=256
E2E_MULTIBOOT = tests/e2e/run-multiboot.sh $(BUILD)/hvrr $(HV_ELF) $(MBK_ELF) $(MBK_AOUT) \
	    $(MBK_MB2) $(MBK_MOD) $(BUILD)/e2e-multiboot $(E2E_TIMEOUT)
e2e: deps-vm $(HV_ISO) $(MBK_ELF) $(MBK_AOUT) $(MBK_MB2) $(MBK_MOD) $(BUILD)/hvrr
	$(Q)rm -f $(BUILD)/e2e/com2.out; HVRR_COM2=$(BUILD)/e2e/com2.out \
	    tests/e2e/run-e2e.sh $(HV_ISO) tests/guests/guests.list $(BUILD)/e2e $(E2E_TIMEOUT) && \
	tests/e2e/check-trace.sh $(BUILD)/hvrr $(BUILD)/e2e/com1.log $(BUILD)/e2e/com2.out $(BUILD)/e2e/traces && \
	$(E2E_MULTIBOOT)
TEST_TARGETS += e2e
.PHONY: e2e-multiboot run-multiboot
e2e-multiboot: deps-vm $(HV_ELF) $(MBK_ELF) $(MBK_AOUT) $(MBK_MB2) $(MBK_MOD) $(BUILD)/hvrr
	$(Q)$(E2E_MULTIBOOT)

# A third-party Multiboot kernel under hvrr: make run-multiboot KERNEL=k.elf
# [KERNEL_CMDLINE='k.elf args'] [MODULES='file=STRING ...'] [MB_ARGS='pass_status=0x10 mem=256M']
KERNEL_CMDLINE ?= $(notdir $(KERNEL))
run-multiboot: deps-vm $(HV_ELF)
	@test -n "$(KERNEL)" || { echo "make run-multiboot KERNEL=path/to/kernel.elf"; exit 2; }
	$(Q)MB_HV_ARGS="$(MB_ARGS)" scripts/run-multiboot.sh $(HV_ELF) $(BUILD)/run-multiboot \
	    "$(KERNEL)" "$(KERNEL_CMDLINE)" $(MODULES)

# Flight-recorder mode: dumps on the magic port and on a triple fault.
.PHONY: e2e-flight
e2e-flight: deps-vm $(HV_ELF) $(BUILD)/guests/flight.bin $(BUILD)/guests/tf.bin $(BUILD)/hvrr
	$(Q)tests/e2e/run-flight.sh $(BUILD)/hvrr $(HV_ELF) $(BUILD)/guests $(BUILD)/e2e-flight $(E2E_TIMEOUT)
TEST_TARGETS += e2e-flight

# The hostile guest with other seeds (not in make test): HOSTILE_SEEDS
# variants of HOSTILE_OPS operations, recorded and replayed.
HOSTILE_SEEDS ?= 8
HOSTILE_OPS   ?= 3000
.PHONY: e2e-hostile-soak
e2e-hostile-soak: deps-vm $(HV_ELF) $(BUILD)/hvrr
	$(Q)tests/e2e/run-hostile-soak.sh $(BUILD)/hvrr $(HV_ELF) $(BUILD)/e2e-hostile-soak \
	    $(HOSTILE_SEEDS) $(HOSTILE_OPS) $(E2E_TIMEOUT)

# A mistyped hv command line is refused with the bad options named.
.PHONY: e2e-badcmd
e2e-badcmd: deps-vm $(HV_ELF) $(BUILD)/guests/smoke.bin
	$(Q)tests/e2e/run-badcmd.sh $(HV_ELF) $(BUILD)/guests $(BUILD)/e2e-badcmd $(E2E_TIMEOUT)
TEST_TARGETS += e2e-badcmd

# hvrr capture on trace-port byte streams (no emulator needed).
.PHONY: capture-test
capture-test: $(BUILD)/hvrr
	@mkdir -p $(BUILD)/tmp
	$(Q)HVRR=$(BUILD)/hvrr TMPDIR=$(BUILD)/tmp tests/e2e/capture-test.sh
TEST_TARGETS += capture-test

# VM-exit round trips per second (guest looping on out 0x80), and the same
# loop without hvrr.
BENCH_EXITS_N ?= 300000
bench-exits: deps-vm $(HV_ELF) $(BUILD)/guests/bench.bin $(BUILD)/guests/bench0.bin
	$(Q)scripts/bench-vm.sh $(HV_ELF) $(BUILD)/guests $(BUILD)/bench-exits $(BENCH_EXITS_N)
BENCH_TARGETS += bench-exits

# The Linux guest under hvrr (guest/: vlbl, Debian kernel, test initramfs).
# About 1.5-3 min under Bochs; `make e2e-linux` (guest/linux-vm.mk) runs it
# in `make test` with the log checks of tests/e2e/check-linux.sh.
LINUX_CMDLINE ?= console=ttyS0 panic=-1
# (guest.mk is included after this file: name its outputs literally.)
LINUX_ISO := $(BUILD)/hvrr-linux.iso
LINUX_MODS := $(BUILD)/guest/vlbl.bin $(BUILD)/guest/bzImage $(BUILD)/guest/initrd-test.cpio.gz
# Recorded on COM2 (hv/recording.h); the check below compares the trace with
# the hv's counters and replays it.
LINUX_RECORD ?= record=stream
LINUX_HV_ARGS = guest=linux poweroff=1 $(LINUX_RECORD) cmdline=$(LINUX_CMDLINE)
# The ISO holds the hv command line: rebuild it when the arguments change.
$(BUILD)/linux-iso.args: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' "$(LINUX_HV_ARGS)" | cmp -s - $@ || printf '%s\n' "$(LINUX_HV_ARGS)" > $@
.PHONY: FORCE
FORCE:
$(LINUX_ISO): $(HV_ELF) $(LINUX_MODS) scripts/mkiso-vm.sh hv/hv.mk $(BUILD)/linux-iso.args
	$(Q)scripts/mkiso-vm.sh $@ $(HV_ELF) "$(LINUX_HV_ARGS)" - - \
	    $(word 1,$(LINUX_MODS))=vlbl $(word 2,$(LINUX_MODS))=bzImage $(word 3,$(LINUX_MODS))=initrd
.PHONY: linux-iso vm-linux-test
linux-iso: deps-vm $(LINUX_ISO)
vm-linux-test: deps-vm $(LINUX_ISO) $(BUILD)/hvrr
	$(Q)rm -f $(BUILD)/vm-linux-com2.out; HVRR_COM2=$(BUILD)/vm-linux-com2.out \
	scripts/run-vm.sh $(LINUX_ISO) $(BUILD)/vm-linux.log $${TIMEOUT:-1200}; \
	tr -d '\r' <$(BUILD)/vm-linux.log | tail -40; echo; grep -aq '^hvrr: RESULT PASS' $(BUILD)/vm-linux.log && \
	tests/e2e/check-trace.sh $(BUILD)/hvrr $(BUILD)/vm-linux.log $(BUILD)/vm-linux-com2.out $(BUILD)/vm-linux-trace

# Flight mode on a real panic: Linux without a usable init panics ("Kernel
# panic - not syncing"), the hv dumps its ring, panic=-1 reboots (reset ends
# the VM); the dumped trace must end with the reset and replay cleanly.
# (capture exits 1 when the ring dropped frames before it: that is damage.)
.PHONY: vm-linux-panic-test
vm-linux-panic-test: deps-vm $(HV_ELF) $(LINUX_MODS) $(BUILD)/hvrr
	@mkdir -p $(BUILD)/vm-linux-panic
	$(Q)scripts/mkiso-vm.sh $(BUILD)/vm-linux-panic/panic.iso $(HV_ELF) \
	    "guest=linux poweroff=1 record=flight flight_mib=1 cmdline=console=ttyS0 panic=-1 rdinit=/none root=/dev/none" - - \
	    $(word 1,$(LINUX_MODS))=vlbl $(word 2,$(LINUX_MODS))=bzImage $(word 3,$(LINUX_MODS))=initrd
	$(Q)d=$(BUILD)/vm-linux-panic; rm -f $$d/com2.out; HVRR_COM2=$$d/com2.out \
	    scripts/run-vm.sh $$d/panic.iso $$d/com1.log $${TIMEOUT:-1200}; \
	tr -d '\r' <$$d/com1.log | grep -a -E 'Kernel panic|^hvrr: (record|RESULT|EXIT-COUNTS)'; \
	grep -aq 'flight ring dump (guest kernel panic)' $$d/com1.log && \
	{ $(BUILD)/hvrr capture -q --counts $$d/com2.out -o $$d/panic.hvt; [ $$? -le 1 ]; } && \
	$(BUILD)/hvrr stats $$d/panic.hvt | grep -E '^(end of trace|damage|  at byte)' && \
	$(BUILD)/hvrr stats $$d/panic.hvt | grep -Eq 'reason (reset|triple)' && \
	$(BUILD)/hvrr replay $$d/panic.hvt | tail -1 | grep -q '^result: 0 divergences' && \
	echo "vm-linux-panic-test: PASS (panic seen, ring dumped, trace ends with the reset, 0 divergences)"

# The cost of recording: the Linux boot with record=off and record=stream in
# the same run; exits recorded, compressed bytes per exit, compression ratio,
# wall/emulated-instruction/guest-time overhead (minutes under Bochs).
.PHONY: bench-record
bench-record: deps-vm $(HV_ELF) $(LINUX_MODS) $(BUILD)/hvrr
	$(Q)scripts/bench-record.sh $(BUILD)/hvrr $(HV_ELF) $(LINUX_MODS) "$(LINUX_CMDLINE)" $(BUILD)/bench-record
BENCH_TARGETS += bench-record

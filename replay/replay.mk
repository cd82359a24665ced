# The `hvrr` CLI: main + one file per subcommand, built from release objects.
HVRR_CLI_SRCS := $(wildcard replay/*.c)
HVRR_CLI_OBJS := $(HVRR_CLI_SRCS:%.c=$(BUILD)/rel/%.o)
CLI_BINS      += $(BUILD)/hvrr

$(BUILD)/hvrr: $(HVRR_CLI_OBJS) $(BUILD)/rel/libhvrr.a
	$(Q)$(CC) $(REL_LDFLAGS) $^ -o $@ $(HOST_LIBS)

# Smoke test of the CLI on a synthetic trace and on damaged copies of it.
.PHONY: trace-cli-test
trace-cli-test: $(BUILD)/hvrr
	@mkdir -p $(BUILD)/tmp
	$(Q)HVRR=$(BUILD)/hvrr TMPDIR=$(BUILD)/tmp bash replay/cli_test.sh
TEST_TARGETS += trace-cli-test

# libFuzzer targets, one per CLI command (replay/fuzz/fuzz_cli.c) plus the
# reader's (trace/fuzz_reader.c); `make fuzz-all FUZZ_TIME=N` runs them all
# within N seconds of wall clock on 2 workers (replay/fuzz/fuzz_all.sh).
# Not in `make test`.
FUZZ_CMDS      := dump stats replay diff export
FUZZ_CFLAGS    := -std=gnu11 -g -O1 $(INCS) -D_GNU_SOURCE -Wno-unused-parameter \
                  -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIB_SRCS   = $(LIB_SRCS) $(filter-out replay/hvrr.c,$(HVRR_CLI_SRCS))
FUZZ_LIB_OBJS   = $(FUZZ_LIB_SRCS:%.c=$(BUILD)/fuzzobj/%.o) $(BUILD)/fuzzobj/gen/trace/hvrr.pb-c.o
$(BUILD)/fuzzobj/%.o: %.c $(TRACE_GEN_H)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined $(DEPFLAGS) -c $< -o $@
$(BUILD)/fuzzobj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined $(DEPFLAGS) -c $< -o $@
# LIB_SRCS is complete only after later fragments: expand the objects late.
.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: replay/fuzz/fuzz_cli.c $$(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -DFUZZ_CMD_$(shell echo $* | tr a-z A-Z) \
	    -fsanitize=fuzzer,address,undefined $< $(FUZZ_LIB_OBJS) -o $@ $(HOST_LIBS)
$(BUILD)/fuzz/fuzz_reader: trace/fuzz_reader.c $$(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_LIB_OBJS) \
	    -o $@ $(HOST_LIBS)
.PHONY: fuzz-all fuzz-all-build
fuzz-all-build: $(FUZZ_CMDS:%=$(BUILD)/fuzz/fuzz_%) $(BUILD)/fuzz/fuzz_reader $(BUILD)/hvrr
fuzz-all: fuzz-all-build
	$(Q)BUILD=$(BUILD) FUZZ_TIME=$(FUZZ_TIME) HVRR=$(BUILD)/hvrr bash replay/fuzz/fuzz_all.sh

# The player guest of `hvrr crosscheck --timed` (tests/xcplayer: a Multiboot
# 1 ELF32 QEMU boots with -kernel; the op list is its -initrd module). hvrr
# looks for it beside itself (build/xcplayer/player.elf).
XCP_ELF := $(BUILD)/xcplayer/player.elf
$(BUILD)/xcplayer/player.o: tests/xcplayer/player.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(MBK_CFLAGS) -I. $(DEPFLAGS) -c $< -o $@
$(BUILD)/xcplayer/boot.o: tests/xcplayer/boot.S
	@mkdir -p $(@D)
	$(Q)$(CC) -m32 $(DEPFLAGS) -c $< -o $@
$(XCP_ELF): $(BUILD)/xcplayer/boot.o $(BUILD)/xcplayer/player.o tests/mbkernel/mbkernel.ld
	$(Q)$(LD) -m elf_i386 -nostdlib -static --no-warn-rwx-segments -T tests/mbkernel/mbkernel.ld \
	    -o $@ $(BUILD)/xcplayer/boot.o $(BUILD)/xcplayer/player.o
ALL_TARGETS += $(XCP_ELF)
trace-cli-test: $(XCP_ELF)

# QEMU's device models as an oracle over the corpus' small captures
# (docs/crosscheck.md), in both modes: stopped clock (qtest) and --timed
# (the player guest under -icount). CROSSCHECK_TIMED_OPEN are run and their
# counts printed, but their open differences do not fail the target. In
# `make test` (15-25 s; needs qemu-system-x86, as crosscheck-seeded does).
CROSSCHECK_TRACES      := io irq pit pitmodes rtcmodes uartfifo picmodes
CROSSCHECK_TIMED       := io irq pit picmodes uartfifo pitmodes rtcmodes
CROSSCHECK_TIMED_OPEN  :=
# more corpus files (names under corpus/, without .hvt), both modes
CROSSCHECK_BOTH        := hv-bochs-kbcreset-guest hv-bochs-strio-guest hv-bochs-lmode-guest \
                          hv-bochs-cpu-guest hv-bochs-apic-guest hv-bochs-multiboot-kernel \
                          hv-bochs-smoke-guest hv-bochs-tf-guest hv-bochs-ept-guest \
                          hv-bochs-idle-guest hv-bochs-spin-guest io-guest linux-boot \
                          linux-boot-quiet serial-shell hv-bochs-smp-guest \
                          hv-bochs-hostile-guest
.PHONY: crosscheck
crosscheck: $(BUILD)/hvrr $(XCP_ELF)
	@rc=0; for t in $(CROSSCHECK_TRACES); do \
	    $(BUILD)/hvrr crosscheck corpus/hv-bochs-$$t-guest.hvt || rc=1; done; \
	for t in $(CROSSCHECK_TIMED); do \
	    $(BUILD)/hvrr crosscheck --timed corpus/hv-bochs-$$t-guest.hvt || rc=1; done; \
	for t in $(CROSSCHECK_BOTH); do \
	    $(BUILD)/hvrr crosscheck corpus/$$t.hvt || rc=1; \
	    $(BUILD)/hvrr crosscheck --timed corpus/$$t.hvt || rc=1; done; \
	for t in $(CROSSCHECK_TIMED_OPEN); do echo "(open, not failing:)"; \
	    $(BUILD)/hvrr crosscheck --timed --max-reports 3 corpus/hv-bochs-$$t-guest.hvt; \
	    [ $$? -le 1 ] || rc=1; done; \
	[ $$rc -eq 0 ] && echo "crosscheck: all clean" || echo "crosscheck: FAILED"; exit $$rc
TEST_TARGETS += crosscheck

# The real Linux captures (1 and 2 vCPUs, interactive), both modes: ~126 000
# scripted ops each, 40-50 s in all, so apart from `make crosscheck`. Their
# platform differences are counted (docs/crosscheck.md, "Platform classes":
# 'absent' devices, host input in 'timing-only'); an unexplained one fails.
CROSSCHECK_LINUX := linux-boot linux-boot-policy linux-interactive linux-smp2
.PHONY: crosscheck-linux
# The 2-vCPU capture must also show the APIC side counted and its ACPI PM
# reads compared (--timed), so neither can vanish unnoticed.
crosscheck-linux: $(BUILD)/hvrr $(XCP_ELF)
	@mkdir -p $(BUILD)/tmp; o=$(BUILD)/tmp/crosscheck-linux.out; rc=0; \
	for t in $(CROSSCHECK_LINUX); do \
	    $(BUILD)/hvrr crosscheck corpus/hv-bochs-$$t.hvt || rc=1; \
	    $(BUILD)/hvrr crosscheck --timed corpus/hv-bochs-$$t.hvt | tee $$o-$$t; \
	    [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; done; \
	grep -q '^  APIC platform: 227 vectors' $$o-linux-smp2 && \
	    grep -qE '^  acpi +293 +258 +35 +0 +0 +0 ' $$o-linux-smp2 || \
	    { echo "crosscheck-linux: smp2's APIC vectors or ACPI PM reads not as counted"; rc=1; }; \
	[ $$rc -eq 0 ] && echo "crosscheck-linux: all clean" || echo "crosscheck-linux: FAILED"; exit $$rc
TEST_TARGETS += crosscheck-linux

# The cross-check's platform classes and APIC-routed vectors, unit-tested on
# the host (make unit): the test links the two replay files it needs.
XC_UNIT_OBJS := $(BUILD)/host/replay/qtest_script.o $(BUILD)/host/replay/xc_classes.o
$(BUILD)/host/tests/test_xc_classes: $(BUILD)/host/tests/test_xc_classes.o $(XC_UNIT_OBJS) \
                                     $(BUILD)/host/libhvrr.a
	$(Q)$(CC) $(HOST_LDFLAGS) $^ -o $@ -lcmocka $(HOST_LIBS)
$(XC_UNIT_OBJS): $(TRACE_GEN_H)

# A seeded shared bug (model and trace both wrong, replay clean) that only
# the cross-check catches: tests/crosscheck_seeded.sh (~15 s, in make test).
.PHONY: crosscheck-seeded
crosscheck-seeded: $(BUILD)/hvrr
	$(Q)HVRR=$(BUILD)/hvrr BUILD=$(BUILD) bash tests/crosscheck_seeded.sh
TEST_TARGETS += crosscheck-seeded

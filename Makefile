# hvrr — top-level Makefile. See README.md; `make help` lists the targets.
.DEFAULT_GOAL := all
.SECONDARY:
SHELL := /bin/bash

include mk/config.mk
include hv/devs/devs.mk
include trace/trace.mk
include replay/replay.mk
include host-sim/host-sim.mk
include hv/hv.mk
include guest/guest.mk
include tests/tests.mk
include bench/bench.mk
include hv/rt/rt.mk

LIB_OBJS_HOST := $(LIB_SRCS:%.c=$(BUILD)/host/%.o) $(LIB_GEN_SRCS:$(BUILD)/gen/%.c=$(BUILD)/host/gen/%.o)
LIB_OBJS_REL  := $(LIB_SRCS:%.c=$(BUILD)/rel/%.o) $(LIB_GEN_SRCS:$(BUILD)/gen/%.c=$(BUILD)/rel/gen/%.o)

$(BUILD)/host/libhvrr.a: $(LIB_OBJS_HOST)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^
$(BUILD)/rel/libhvrr.a: $(LIB_OBJS_REL)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

.PHONY: all deps deps-build deps-vm deps-guest test unit bench clean format help
all: deps-build $(BUILD)/host/libhvrr.a $(BUILD)/rel/libhvrr.a $(CLI_BINS) $(ALL_TARGETS)

deps:
	@scripts/deps.sh all
deps-build:
	@scripts/deps.sh build
deps-vm:
	@scripts/deps.sh vm
deps-guest:
	@scripts/deps.sh guest

# Everything CI checks. Each step runs even if an earlier one failed; the
# result is a failure if any did.
test: deps
	@rc=0; for t in unit $(TEST_TARGETS); do \
	    echo "=== make $$t"; $(MAKE) --no-print-directory $$t || { echo "=== FAILED: make $$t"; rc=1; }; \
	done; exit $$rc

format:
	@clang-format -i $$(git ls-files '*.c' '*.h' | grep -v '^corpus/')

clean:
	rm -rf $(BUILD)

help:
	@echo "make run        boot the bundled Linux guest under hvrr, shell on this terminal (RUN_RECORD= to record)"
	@echo "make test       install what is missing, build, run every test (CI)"
	@echo "make unit       cmocka unit tests (host build, ASan+UBSan)"
	@echo "make bench      benchmarks that print figures"
	@echo "make e2e        hypervisor end-to-end tests under Bochs (or QEMU+KVM)"
	@echo "make iso        bootable GRUB ISO with the hypervisor"
	@echo "make devs-freestanding  prove hv/devs builds with -ffreestanding -nostdlib"
	@echo "make fuzz       libFuzzer run on the trace reader (not part of test)"
	@echo "make fuzz-devices libFuzzer on random guest device traffic (not part of test)"
	@echo "make devs-soak  random device traffic recorded + replayed, 0 divergences (in test)"
	@echo "make e2e-linux  Linux under hvrr on Bochs: boot facts + trace replay (in test)"
	@echo "make e2e-linux-apic  the same with apic=1: IO-APIC routing, LOC counts, MMIO replay (in test)"
	@echo "make crosscheck  corpus captures checked against QEMU's device models, stopped clock and --timed (in test)"
	@echo "make crosscheck-linux  the same on the real Linux captures (1-2 vCPUs, ~45 s; in test)"
	@echo "make mutants    one-line bugs of tests/mutants/ applied one at a time: kill rates per suite (not in test)"
	@echo "make format     apply .clang-format"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

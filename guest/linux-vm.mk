# Linux under hvrr, end to end (included from guest/guest.mk, after hv/hv.mk):
#   make e2e-linux        test initramfs: boot facts, trace replay (make test)
#   make e2e-linux-apic   the same boot with apic=1 (local APIC + I/O APIC,
#                         ACPI tables): IO-APIC routing, LOC counts, replay
#                         (make test)
#   make e2e-linux-smp    the apic=1 boot with cpus=2: both CPUs up, LOC and
#                         RES/CAL on each, replayed twice identically (make test)
#   make e2e-linux-smp4   the same with cpus=4 (slower; not in make test)
#   make e2e-linux-input  bytes typed on the physical COM1 reach the shell,
#                         `reboot -f` ends the run by the 8042 reset (make test)
#   make run              the shell initramfs, guest console on this terminal
#   make bench-linux-smp  recording overhead of the cpus=2 boot (make bench)
#   make bench-linux      boot wall time under hvrr (no-APIC and apic=1) vs GRUB
#                         booting the same kernel + initramfs directly on Bochs
#                         (make bench)
# README.md "Running Linux under hvrr"; scripts/run-linux.sh.

# The test boot is vm-linux-test (hv/hv.mk: recorded, trace checked and
# replayed) plus the boot facts tests/e2e/check-linux.sh requires.
LINUX_E2E_TIMEOUT ?= 900
.PHONY: e2e-linux
e2e-linux: deps-vm
	$(Q)t0=$$(date +%s); rc=0; \
	$(MAKE) --no-print-directory vm-linux-test TIMEOUT=$(LINUX_E2E_TIMEOUT) || rc=1; \
	echo "e2e-linux: wall $$(( $$(date +%s) - t0 )) s (bound $(LINUX_E2E_TIMEOUT) s)"; \
	tests/e2e/check-linux.sh test $(BUILD)/vm-linux.log && exit $$rc
TEST_TARGETS += e2e-linux

# The APIC platform (hv option apic=1, docs/devices/lapic.md): the same
# kernel, initramfs and command line; the MADT routes the ISA IRQs through
# the I/O APIC, the local APIC timer (calibrated against the PIT) is the
# clock event device, the FADT's PM1a block powers off. Recorded; the trace
# (MMIO and APIC MSR records included) is checked and replayed.
LINUX_APIC_DIR := $(BUILD)/e2e-linux-apic
LINUX_APIC_ARGS = guest=linux poweroff=1 apic=1 $(LINUX_RECORD) cmdline=$(LINUX_CMDLINE)
.PHONY: e2e-linux-apic
e2e-linux-apic: deps-vm $(HV_ELF) $(LINUX_MODS) $(BUILD)/hvrr
	$(Q)d=$(LINUX_APIC_DIR); mkdir -p $$d; t0=$$(date +%s); rc=0; \
	scripts/mkiso-vm.sh $$d/linux.iso $(HV_ELF) "$(LINUX_APIC_ARGS)" - - \
	    $(word 1,$(LINUX_MODS))=vlbl $(word 2,$(LINUX_MODS))=bzImage $(word 3,$(LINUX_MODS))=initrd || exit 1; \
	rm -f $$d/com2.out; HVRR_COM2=$$d/com2.out \
	scripts/run-vm.sh $$d/linux.iso $$d/com1.log $(LINUX_E2E_TIMEOUT); \
	tr -d '\r' <$$d/com1.log | tail -40; echo; \
	{ grep -aq '^hvrr: RESULT PASS' $$d/com1.log && \
	  tests/e2e/check-trace.sh $(BUILD)/hvrr $$d/com1.log $$d/com2.out $$d/trace && \
	  tail -4 $$d/trace/replay-0.txt; } || rc=1; \
	echo "e2e-linux-apic: wall $$(( $$(date +%s) - t0 )) s (bound $(LINUX_E2E_TIMEOUT) s)"; \
	tests/e2e/check-linux.sh apic $$d/com1.log && exit $$rc
TEST_TARGETS += e2e-linux-apic

# Several vCPUs (hv option cpus=N, issue 16; docs/hypervisor.md "vCPUs"):
# the apic=1 boot with the MADT listing N processors. Linux starts the APs
# by INIT/SIPI/SIPI through the xAPIC ICR; all vCPUs share the one physical
# CPU, switched at exits. Checks: every AP up (smpboot, /proc/cpuinfo), LOC
# and RES or CAL non-zero on each CPU, ACPI power-off; the trace checked
# and replayed twice with identical output.
# $(call linux_smp_rule,TARGET,N)
define linux_smp_rule
.PHONY: $(1)
$(1): deps-vm $$(HV_ELF) $$(LINUX_MODS) $$(BUILD)/hvrr
	$$(Q)d=$$(BUILD)/$(1); mkdir -p $$$$d; t0=$$$$(date +%s); rc=0; \
	scripts/mkiso-vm.sh $$$$d/linux.iso $$(HV_ELF) "guest=linux poweroff=1 cpus=$(2) $$(LINUX_RECORD) cmdline=$$(LINUX_CMDLINE)" - - \
	    $$(word 1,$$(LINUX_MODS))=vlbl $$(word 2,$$(LINUX_MODS))=bzImage $$(word 3,$$(LINUX_MODS))=initrd || exit 1; \
	rm -f $$$$d/com2.out; HVRR_COM2=$$$$d/com2.out \
	scripts/run-vm.sh $$$$d/linux.iso $$$$d/com1.log $$(LINUX_E2E_TIMEOUT); \
	tr -d '\r' <$$$$d/com1.log | tail -40; echo; \
	{ grep -aq '^hvrr: RESULT PASS' $$$$d/com1.log && \
	  tests/e2e/check-trace.sh $$(BUILD)/hvrr $$$$d/com1.log $$$$d/com2.out $$$$d/trace && \
	  $$(BUILD)/hvrr replay $$$$d/trace/trace-0.hvt >$$$$d/trace/replay-again.txt 2>&1 && \
	  cmp $$$$d/trace/replay-0.txt $$$$d/trace/replay-again.txt && \
	  echo "$(1): replayed twice, identical output" && tail -4 $$$$d/trace/replay-0.txt; } || rc=1; \
	echo "$(1): wall $$$$(( $$$$(date +%s) - t0 )) s (bound $$(LINUX_E2E_TIMEOUT) s)"; \
	tests/e2e/check-linux.sh smp $$$$d/com1.log $(2) && exit $$$$rc
endef
$(eval $(call linux_smp_rule,e2e-linux-smp,2))
$(eval $(call linux_smp_rule,e2e-linux-smp4,4))
TEST_TARGETS += e2e-linux-smp

# Input and reboot: interactive=1 (an idle guest waits for COM1 input); the
# reboot initramfs starts a shell, the test types an interactive session
# (a command, `hwclock -r`, `sleep 1`, `cat /proc/interrupts`, `exit`), the
# init then runs `reboot -f`. Recorded (record=stream, trace on COM2): the
# trace is checked against the hv's counters and replayed, and is the real
# capture corpus/hv-bochs-linux-interactive.hvt (`make corpus-linux-interactive`
# copies it there after a run).
LINUX_INPUT_DIR := $(BUILD)/e2e-linux-input
LINUX_INPUT_ISO := $(LINUX_INPUT_DIR)/input.iso
$(LINUX_INPUT_ISO): $(HV_ELF) $(VLBL_BIN) $(GUEST_KERNEL) $(GUEST_OUT)/initrd-reboot.cpio.gz scripts/mkiso-vm.sh guest/linux-vm.mk
	@mkdir -p $(@D)
	$(Q)scripts/mkiso-vm.sh $@ $(HV_ELF) "guest=linux poweroff=1 interactive=1 $(LINUX_RECORD) cmdline=console=ttyS0 panic=-1" - - \
	    $(VLBL_BIN)=vlbl $(GUEST_KERNEL)=bzImage $(GUEST_OUT)/initrd-reboot.cpio.gz=initrd
.PHONY: e2e-linux-input
e2e-linux-input: deps-vm $(LINUX_INPUT_ISO) $(BUILD)/hvrr
	$(Q)t0=$$(date +%s); rc=0; rm -f $(LINUX_INPUT_DIR)/com2.out; \
	HVRR_COM2=$(LINUX_INPUT_DIR)/com2.out scripts/run-linux.sh feed $(LINUX_INPUT_ISO) \
	    $(LINUX_INPUT_DIR)/com1.log $(LINUX_E2E_TIMEOUT) HVRR-INPUT-READY \
	    'echo typed-$$((6*7))\nhwclock -r\nsleep 1; echo slept-$$((2+3))\ncat /proc/interrupts\nexit\n' || rc=$$?; \
	tr -d '\r' <$(LINUX_INPUT_DIR)/com1.log | sed -n '/HVRR-INPUT-READY/,$$p'; \
	echo "e2e-linux-input: wall $$(( $$(date +%s) - t0 )) s (bound $(LINUX_E2E_TIMEOUT) s, run-linux rc $$rc)"; \
	tests/e2e/check-linux.sh input $(LINUX_INPUT_DIR)/com1.log && \
	tests/e2e/check-trace.sh $(BUILD)/hvrr $(LINUX_INPUT_DIR)/com1.log $(LINUX_INPUT_DIR)/com2.out $(LINUX_INPUT_DIR)/trace
.PHONY: corpus-linux-interactive
corpus-linux-interactive: $(BUILD)/hvrr
	$(Q)$(BUILD)/hvrr replay $(LINUX_INPUT_DIR)/trace/trace-0.hvt | tail -1 | grep -q '^result: 0 divergences' && \
	cp $(LINUX_INPUT_DIR)/trace/trace-0.hvt corpus/hv-bochs-linux-interactive.hvt && \
	echo "corpus-linux-interactive: corpus/hv-bochs-linux-interactive.hvt"
TEST_TARGETS += e2e-linux-input

# make run: install, build, boot the shell initramfs with the console here.
#   RUN_MEM=256M (guest RAM), RUN_CMDLINE='console=ttyS0 ...' (kernel),
#   RUN_TIMEOUT=S (emulator wall-clock bound, 0 = none),
#   RUN_RECORD='record=stream' (hv recording options; the trace goes to the
#   physical COM2, kept in $(BUILD)/run/com2.out; empty = no recording).
RUN_MEM     ?= 128M
RUN_CMDLINE ?= console=ttyS0 panic=-1
RUN_TIMEOUT ?= 0
RUN_RECORD  ?=
RUN_DIR := $(BUILD)/run
RUN_ISO := $(RUN_DIR)/hvrr-run.iso
$(RUN_DIR)/hv-args: FORCE_RUN_ARGS
	@mkdir -p $(@D)
	@echo "guest=linux poweroff=1 interactive=1 realtime=1 mem=$(RUN_MEM) $(RUN_RECORD) cmdline=$(RUN_CMDLINE)" >$@.tmp; \
	cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
.PHONY: FORCE_RUN_ARGS
$(RUN_ISO): $(RUN_DIR)/hv-args $(HV_ELF) $(VLBL_BIN) $(GUEST_KERNEL) $(GUEST_OUT)/initrd-shell.cpio.gz scripts/mkiso-vm.sh
	$(Q)scripts/mkiso-vm.sh $@ $(HV_ELF) "$$(cat $<)" - - \
	    $(VLBL_BIN)=vlbl $(GUEST_KERNEL)=bzImage $(GUEST_OUT)/initrd-shell.cpio.gz=initrd
.PHONY: run
run: deps all $(RUN_ISO) $(BUILD)/hvrr
	$(Q)HVRR_COM2=$(RUN_DIR)/com2.out scripts/run-linux.sh term $(RUN_ISO) $(RUN_TIMEOUT)

# Linux boot wall time under hvrr vs the same kernel, initramfs and command
# line booted by GRUB directly on Bochs (same CPU model and ips).
# Recording overhead of the 2-vCPU boot (record=stream vs off: emulated
# instructions, bytes per exit); scripts/bench-linux-rec.sh.
.PHONY: bench-linux-smp
bench-linux-smp: deps-vm $(HV_ELF) $(LINUX_MODS) $(BUILD)/hvrr
	$(Q)scripts/bench-linux-rec.sh $(HV_ELF) $(LINUX_MODS) "$(LINUX_CMDLINE)" $(BUILD)/bench-linux-smp 2 $(BUILD)/hvrr
BENCH_TARGETS += bench-linux-smp

.PHONY: bench-linux
bench-linux: deps-vm $(HV_ELF) $(VLBL_BIN) $(GUEST_KERNEL) $(GUEST_OUT)/initrd-test.cpio.gz
	$(Q)scripts/bench-linux.sh $(HV_ELF) $(VLBL_BIN) $(GUEST_KERNEL) $(GUEST_OUT)/initrd-test.cpio.gz \
	    "console=ttyS0 panic=-1" $(BUILD)/bench-linux
BENCH_TARGETS += bench-linux

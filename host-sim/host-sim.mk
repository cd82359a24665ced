# host-sim: the replayer (host only) and hv/record, the recording convention
# shared with the hypervisor (portable, freestanding). See docs/replay.md.
HOSTSIM_SRCS := $(filter-out host-sim/scenario_main.c,$(wildcard host-sim/*.c))
RECORD_SRCS  := $(wildcard hv/record/*.c)
# hv/vcpu_policy.c: the guest-visible CPUID/MSR policy, also built into the
# hypervisor (hv.mk), so replay can check recorded CPUID/MSR answers.
# hv/vm_policy.c: the VM exit policy (hv/vm_policy.h), the one copy the
# hypervisor, the scripted guests and the device soak run.
# hv/guest_walk.c (string I/O page walk), hv/options.c (hv command line): unit-tested on the host.
POLICY_SRCS  := hv/vm_policy.c hv/vcpu_policy.c
LIB_SRCS     += $(HOSTSIM_SRCS) $(RECORD_SRCS) $(POLICY_SRCS) hv/guest_walk.c hv/options.c
# hv/multiboot.c: the Multiboot v1/v2 loader of guest=multiboot, unit-tested on the host.
LIB_SRCS     += hv/multiboot.c
# hv/acpi.c (ACPI tables of the APIC platform), hv/mmio_decode.c and hv/vm_mmio.c (MMIO
# exits: MOV decoder and policy): unit-tested on the host.
LIB_SRCS     += hv/acpi.c hv/mmio_decode.c hv/vm_mmio.c

# Everything here (and its tests/bench/CLI users) includes trace headers that
# pull in nothing generated, but keep the order safe for parallel builds.
HOSTSIM_GEN_USERS := $(foreach v,host rel,$(HOSTSIM_SRCS:%.c=$(BUILD)/$(v)/%.o) $(RECORD_SRCS:%.c=$(BUILD)/$(v)/%.o))
$(HOSTSIM_GEN_USERS): $(TRACE_GEN_H)

# hv/record and the policies must build freestanding: they are linked into
# the hypervisor.
RECORD_FREE_OBJS := $(RECORD_SRCS:%.c=$(BUILD)/free/%.o) $(POLICY_SRCS:%.c=$(BUILD)/free/%.o)
RECORD_ALLOWED_UNDEF := memcpy memset memmove memcmp trace_write_header trace_write_exit \
    trace_write_dev trace_write_checkpoint trace_writer_finish trace_writer_get_stats \
    vm_devices_init vm_devices_io vm_devices_advance vm_devices_ack vm_devices_com1_rx \
    vm_devices_save vm_devices_next_event_cached vm_devices_sync vm_devices_intr vm_devices_mmio \
    vm_devices_msr lapic_msr_owned vm_devices_ack_cpu vm_devices_mmio_cpu vm_devices_msr_cpu \
    vm_devices_intr_cpu vm_devices_nmi_cpu vm_devices_nmi_take_cpu
.PHONY: record-freestanding
record-freestanding: $(RECORD_FREE_OBJS)
	@bad=$$(for o in $^; do nm -u $$o; done | awk '{print $$2}' | grep -vxE '$(subst $(subst ,, ),|,$(RECORD_ALLOWED_UNDEF))' || true); \
	if [ -n "$$bad" ]; then echo "record-freestanding: undefined symbols: $$bad"; exit 1; fi; \
	echo "record-freestanding: $(words $^) file(s) compiled with -ffreestanding -nostdlib"
TEST_TARGETS += record-freestanding

# Scripted-guest traces for corpus/ (until real captures exist).
SCENARIO_BIN := $(BUILD)/hvrr-scenario
$(BUILD)/rel/host-sim/scenario_main.o: $(TRACE_GEN_H)
$(SCENARIO_BIN): $(BUILD)/rel/host-sim/scenario_main.o $(BUILD)/rel/libhvrr.a
	$(Q)$(CC) $(REL_LDFLAGS) $^ -o $@ $(HOST_LIBS)
ALL_TARGETS += $(SCENARIO_BIN)
CORPUS_SCENARIOS := linux-boot linux-boot-quiet serial-shell io-guest

.PHONY: corpus
corpus: $(SCENARIO_BIN)
	$(Q)for s in $(CORPUS_SCENARIOS); do $(SCENARIO_BIN) $$s -o corpus/$$s.hvt || exit 1; \
	    echo "corpus/$$s.hvt: $$(stat -c %s corpus/$$s.hvt) bytes"; done

# Every corpus trace replays with 0 divergences, and twice to the same bytes.
CORPUS_TRACES = $(wildcard corpus/*.hvt)
.PHONY: replay-corpus
replay-corpus: $(BUILD)/hvrr
	@mkdir -p $(BUILD)/tmp/replay-corpus
	@rc=0; n=0; for t in $(CORPUS_TRACES); do n=$$((n+1)); b=$(BUILD)/tmp/replay-corpus/$$(basename $$t .hvt); \
	    $(BUILD)/hvrr replay $$t >$$b.1 2>&1; r1=$$?; $(BUILD)/hvrr replay $$t >$$b.2 2>&1; r2=$$?; \
	    if [ $$r1 -ne 0 ] || [ $$r2 -ne 0 ]; then echo "replay-corpus: $$t diverges (rc $$r1/$$r2):"; head -40 $$b.1; rc=1; \
	    elif ! cmp -s $$b.1 $$b.2; then echo "replay-corpus: $$t: two replays printed different output"; rc=1; \
	    else echo "replay-corpus: $$t: $$(tail -1 $$b.1), identical output on two runs"; fi; \
	done; [ $$n -gt 0 ] || { echo "replay-corpus: no traces in corpus/"; rc=1; }; exit $$rc
TEST_TARGETS += replay-corpus

# hvrr bisect finds a seeded regression commit in a scratch clone.
.PHONY: bisect-test
bisect-test: $(BUILD)/hvrr
	@mkdir -p $(BUILD)/tmp
	$(Q)HVRR=$(BUILD)/hvrr TMPDIR=$(BUILD)/tmp bash host-sim/bisect_test.sh
TEST_TARGETS += bisect-test

# hvrr replay / diff / export --perfetto smoke test on the corpus.
.PHONY: replay-cli-test
replay-cli-test: $(BUILD)/hvrr
	@mkdir -p $(BUILD)/tmp
	$(Q)HVRR=$(BUILD)/hvrr TMPDIR=$(BUILD)/tmp bash host-sim/cli_replay_test.sh
TEST_TARGETS += replay-cli-test

# Real captures: the traces of the last `make e2e` run into corpus/, named
# after the guest in their header's command line ("name=NAME ..."), and the
# Multiboot test kernel's (e2e-multiboot) as hv-bochs-multiboot-kernel.hvt;
# with CORPUS_E2E_ONLY="name ..." only those guests' traces ("multiboot"
# names the kernel's).
CORPUS_E2E_ONLY ?=
.PHONY: corpus-e2e
corpus-e2e: $(BUILD)/hvrr
	$(Q)set -e; ls $(BUILD)/e2e/traces/trace-*.hvt >/dev/null; \
	for t in $(BUILD)/e2e/traces/trace-*.hvt; do \
	    n=$$($(BUILD)/hvrr stats $$t | sed -n 's/.*cmdline "name=\([A-Za-z0-9_-]*\).*/\1/p'); \
	    [ -n "$$n" ] || { echo "corpus-e2e: $$t: no name= in its command line"; exit 1; }; \
	    [ -z "$(CORPUS_E2E_ONLY)" ] || case " $(CORPUS_E2E_ONLY) " in *" $$n "*) ;; *) continue ;; esac; \
	    $(BUILD)/hvrr replay $$t >/dev/null || { echo "corpus-e2e: $$t ($$n) does not replay clean"; exit 1; }; \
	    cp $$t corpus/hv-bochs-$$n-guest.hvt; echo "corpus/hv-bochs-$$n-guest.hvt"; done; \
	t=$(BUILD)/e2e-multiboot/pass/traces/trace-0.hvt; \
	case " $(if $(CORPUS_E2E_ONLY),$(CORPUS_E2E_ONLY),multiboot) " in *" multiboot "*) ;; *) t=/nonexistent ;; esac; \
	if [ -f $$t ]; then \
	    $(BUILD)/hvrr replay $$t >/dev/null || { echo "corpus-e2e: $$t does not replay clean"; exit 1; }; \
	    cp $$t corpus/hv-bochs-multiboot-kernel.hvt; echo corpus/hv-bochs-multiboot-kernel.hvt; fi

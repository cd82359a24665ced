# cmocka unit tests: every tests/test_*.c is one test program, linked with
# libhvrr.a (host build, ASan+UBSan). `make unit` runs them all.
UNIT_SRCS := $(wildcard tests/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/%.c=$(BUILD)/host/tests/%)

$(BUILD)/host/tests/%: $(BUILD)/host/tests/%.o $(BUILD)/host/libhvrr.a
	$(Q)$(CC) $(HOST_LDFLAGS) $^ -o $@ -lcmocka $(HOST_LIBS)

.PHONY: unit unit-build
unit-build: deps-build $(UNIT_BINS)
unit: unit-build
	@rc=0; n=0; for t in $(UNIT_BINS); do n=$$((n+1)); \
	    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $$t || rc=1; \
	done; echo "unit: $$n test programs, $$( [ $$rc = 0 ] && echo all passed || echo FAILURES )"; exit $$rc

# Random guest device traffic (tests/fuzz_devices.c): played through
# hv/record as the hypervisor does, each trace must decode whole and replay
# with 0 divergences, and device state must save/restore byte-exactly.
# devs-soak: DEVS_SOAK_N pseudo-random inputs under ASan+UBSan (make test);
# fuzz-devices: the same harness under libFuzzer for FUZZ_TIME seconds.
DEVS_SOAK_N    ?= 700
DEVS_SOAK_SEED ?= 1
FUZZDEV_BIN := $(BUILD)/host/tests/fuzz_devices
$(BUILD)/host/tests/fuzz_devices.o: $(TRACE_GEN_H)
.PHONY: devs-soak fuzz-devices
devs-soak: deps-build $(FUZZDEV_BIN)
	$(Q)mkdir -p $(BUILD)/tmp && cd $(BUILD)/tmp && ASAN_OPTIONS=detect_leaks=1 \
	    UBSAN_OPTIONS=print_stacktrace=1 $(abspath $(FUZZDEV_BIN)) $(DEVS_SOAK_N) $(DEVS_SOAK_SEED)
TEST_TARGETS += devs-soak

FUZZDEV_SRCS = tests/fuzz_devices.c $(LIB_SRCS) $(TRACE_GEN_C)
fuzz-devices: $(TRACE_GEN_H)
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { \
	    echo "make fuzz-devices: '$(FUZZ_CC)' not found; install clang (with libclang-rt-dev) or set FUZZ_CC"; exit 1; }
	@mkdir -p $(BUILD)/fuzz/devices-corpus
	$(Q)$(FUZZ_CC) -std=gnu11 -g -O1 $(INCS) -D_GNU_SOURCE -DHVRR_LIBFUZZER -Wno-unused-parameter \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    $(FUZZDEV_SRCS) -o $(BUILD)/fuzz/fuzz_devices $(HOST_LIBS)
	$(Q)$(BUILD)/fuzz/fuzz_devices -max_total_time=$(FUZZ_TIME) -max_len=8192 \
	    -print_final_stats=1 $(BUILD)/fuzz/devices-corpus

# Mutation testing (scripts/mutants.py, docs/mutants.md): tests/mutants/*.mut
# are small realistic bugs in hv/devs and the exit policy. mutants-check (in
# make test): each still applies exactly once and compiles. mutants (not in
# make test): each is applied in a scratch tree under $(BUILD)/mutants and
# make unit, the corpus replay and devs-soak (MUTANTS_SOAK_N inputs) run
# against it; prints kill rates per suite and the survivors.
# MUTANTS=glob[,glob] (or space-separated) selects, MUTANTS_JOBS=N runs N scratch trees in parallel.
MUTANTS        ?=
MUTANTS_JOBS   ?= 1
MUTANTS_SOAK_N ?= 200
.PHONY: mutants mutants-check
mutants-check:
	$(Q)CC=$(CC) BUILD=$(BUILD) python3 scripts/mutants.py check $(MUTANTS)
TEST_TARGETS += mutants-check
mutants: deps-build
	$(Q)BUILD=$(BUILD) MUTANTS_SOAK_N=$(MUTANTS_SOAK_N) python3 scripts/mutants.py run -j $(MUTANTS_JOBS) $(MUTANTS)

# Self-checks against subtle mutants (docs/mutants.md): $(BUILD)/host/mutants/NAME.o
# is all of hv/devs with tests/mutants/NAME.mut applied, every global symbol
# renamed mut_NAME_* (NAME with '-' as '_'), so a test links it beside the
# real models and replays through it (replay_opts.devs).
$(BUILD)/host/mutants/%.o: tests/mutants/%.mut $(DEVS_SRCS) $(wildcard hv/devs/*.h) host-sim/replay.h scripts/mutants.py
	@mkdir -p $(@D)
	$(Q)LD=$(LD) python3 scripts/mutants.py devs-object $* $@ $(CC) $(HOST_CFLAGS)
SOAK_MUTANTS   := pit-mode3-odd-count uart-iir-read-clears-thre-always pic-specific-eoi-rotates \
                  ioapic-masked-edge-kept lapic-ppr-equal-class-delivered lapic-sipi-while-running
$(FUZZDEV_BIN): $(SOAK_MUTANTS:%=$(BUILD)/host/mutants/%.o)
SEEDED_MUTANTS := pit-mode2-low-at-reload pic-specific-eoi-rotates uart-msr-read-clears-lines
$(BUILD)/host/tests/test_replay_seeded: $(SEEDED_MUTANTS:%=$(BUILD)/host/mutants/%.o)

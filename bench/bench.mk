# Benchmarks: every bench/bench_*.c is one program built optimised (no
# sanitizers) and linked with the release libhvrr.a; `make bench` runs each,
# then the BENCH_TARGETS other fragments add (e.g. boots under Bochs).
BENCH_SRCS := $(wildcard bench/bench_*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/rel/bench/%)

$(BUILD)/rel/bench/%: $(BUILD)/rel/bench/%.o $(BUILD)/rel/libhvrr.a
	$(Q)$(CC) $(REL_LDFLAGS) $^ -o $@ $(HOST_LIBS)

.PHONY: bench
bench: deps-build $(BENCH_BINS)
	@for b in $(BENCH_BINS); do echo "=== $$b"; $$b || exit 1; done
	@for t in $(BENCH_TARGETS); do echo "=== make $$t"; $(MAKE) --no-print-directory $$t || exit 1; done

# Where the 2-vCPU boot's compressed trace bytes go, by record kind and field,
# and in other frame sizes / zstd levels (bench/trace-bytes.py; ~1 min).
# TRACE_BYTES_IN=FILE for another trace. Not in `make bench`.
TRACE_BYTES_IN ?= corpus/hv-bochs-linux-smp2.hvt
.PHONY: trace-bytes
trace-bytes: $(BUILD)/hvrr
	$(Q)bench/trace-bytes.py --hvrr $(BUILD)/hvrr $(TRACE_BYTES_IN)

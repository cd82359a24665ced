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

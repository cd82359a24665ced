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

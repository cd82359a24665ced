# Proof that the trace writer links freestanding, the way the hypervisor will
# link it: our writer + the protobuf-c generated code compiled freestanding,
# Debian's static libzstd.a and libprotobuf-c.a as they are, and hv/rt for the
# few libc symbols they expect. What remains undefined must be the memory
# functions the hypervisor already provides (weak zstd tracing hooks stay
# null; _GLOBAL_OFFSET_TABLE_ is defined by the final static link).
RT_FREE_CFLAGS := $(filter-out -mcmodel=kernel,$(FREE_CFLAGS)) -mcmodel=small
RT_LINK_SRCS   := hv/rt/rt.c trace/trace_writer.c trace/trace_encode.c trace/trace_frame.c
RT_LINK_OBJS   := $(RT_LINK_SRCS:%.c=$(BUILD)/rt/%.o) $(BUILD)/rt/gen/trace/hvrr.pb-c.o
STATIC_LIBDIR  ?= $(shell $(CC) -print-multiarch 2>/dev/null | sed 's|^|/usr/lib/|')

$(BUILD)/rt/%.o: %.c $(TRACE_GEN_H)
	@mkdir -p $(@D)
	$(Q)$(CC) $(RT_FREE_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(BUILD)/rt/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(RT_FREE_CFLAGS) -Wno-unused-parameter $(DEPFLAGS) -c $< -o $@

.PHONY: trace-freestanding
trace-freestanding: $(RT_LINK_OBJS)
	$(Q)$(LD) -r -o $(BUILD)/rt/trace-writer-linked.o $(RT_LINK_OBJS) \
	    $(STATIC_LIBDIR)/libzstd.a $(STATIC_LIBDIR)/libprotobuf-c.a
	@bad=$$(nm -u $(BUILD)/rt/trace-writer-linked.o | awk '$$1 == "U" {print $$2}' | \
	    grep -vxE 'memcpy|memset|memmove|memcmp|_GLOBAL_OFFSET_TABLE_' || true); \
	if [ -n "$$bad" ]; then echo "trace-freestanding: undefined symbols:" $$bad; exit 1; fi; \
	echo "trace-freestanding: writer + libzstd.a + libprotobuf-c.a link freestanding ($$(size -B $(BUILD)/rt/trace-writer-linked.o | awk 'NR==2{print $$1+$$2+$$3}') bytes)"
	@# The hv saves only x87/SSE state around these libraries (hv/recording/fpu.c).
	@n=$$(objdump -d $(BUILD)/rt/trace-writer-linked.o | grep -cE '%[yz]mm|%k[0-7]\b' || true); \
	if [ "$$n" != 0 ]; then echo "trace-freestanding: $$n AVX/AVX-512 instructions in the linked writer"; exit 1; fi; \
	echo "trace-freestanding: no AVX/AVX-512 register use (saving x87/SSE state suffices)"
TEST_TARGETS += trace-freestanding

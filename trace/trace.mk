# Trace library: schema (protobuf-c generated), framing, writer (freestanding-
# safe), reader and host helpers (host only). See docs/trace-format.md.
TRACE_PROTO    := trace/hvrr.proto
TRACE_GEN_C    := $(BUILD)/gen/trace/hvrr.pb-c.c
TRACE_GEN_H    := $(BUILD)/gen/trace/hvrr.pb-c.h
TRACE_SRCS     := trace/trace_frame.c trace/trace_writer.c trace/trace_encode.c trace/trace_reader.c \
                  trace/trace_host.c trace/trace_names.c trace/trace_synth.c \
                  trace/trace_craft.c trace/trace_validate.c trace/trace_crcspan.c \
                  trace/trace_decode.c
LIB_SRCS       += $(TRACE_SRCS)
LIB_GEN_SRCS   += $(TRACE_GEN_C)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: %.proto
	@mkdir -p $(BUILD)/gen
	$(Q)$(PROTOC_C) --c_out=$(BUILD)/gen $<

# Everything that includes the generated header waits for it.
TRACE_GEN_USERS := $(foreach v,host rel,$(TRACE_SRCS:%.c=$(BUILD)/$(v)/%.o)) \
                   $(patsubst tests/%.c,$(BUILD)/host/tests/%.o,$(wildcard tests/test_trace*.c)) \
                   $(BUILD)/rel/bench/bench_trace.o
$(TRACE_GEN_USERS): $(TRACE_GEN_H)

# libFuzzer run on the reader (not part of `make test`).
FUZZ_TIME ?= 60
FUZZ_CC   ?= clang
FUZZ_SRCS := trace/fuzz_reader.c trace/trace_frame.c trace/trace_reader.c trace/trace_names.c \
             trace/trace_validate.c trace/trace_crcspan.c trace/trace_decode.c \
             $(TRACE_GEN_C)
.PHONY: fuzz
fuzz: $(TRACE_GEN_H) $(BUILD)/hvrr
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { \
	    echo "make fuzz: '$(FUZZ_CC)' not found; install clang (with libclang-rt-dev) or set FUZZ_CC"; exit 1; }
	@mkdir -p $(BUILD)/fuzz/corpus
	$(Q)$(FUZZ_CC) -std=gnu11 -g -O1 $(INCS) -D_GNU_SOURCE -Wno-unused-parameter \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    $(FUZZ_SRCS) -o $(BUILD)/fuzz/fuzz_reader $(HOST_LIBS)
	@# seeds: small valid traces (frames every ~130 exits via checkpoints)
	$(Q)$(BUILD)/hvrr synth -o $(BUILD)/fuzz/corpus/seed1.hvrr --exits 300 --checkpoint-every 50 2>/dev/null
	$(Q)$(BUILD)/hvrr synth -o $(BUILD)/fuzz/corpus/seed2.hvrr --exits 1500 --seed 7 --checkpoint-every 400 2>/dev/null
	$(Q)$(BUILD)/fuzz/fuzz_reader -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    -print_final_stats=1 $(BUILD)/fuzz/corpus

# Shared build configuration. Fragments (*/*.mk) append to the lists below.
BUILD      ?= build
CC         ?= gcc
LD         ?= ld
PROTOC_C   ?= protoc-c
V          ?= 0
Q          := $(if $(filter 1,$(V)),,@)

WARN       := -Wall -Wextra -Werror
INCS       := -I. -I$(BUILD)/gen
DEPFLAGS    = -MMD -MP

# Host code (unit tests, CLI, host-sim): ASan + UBSan, no recovery.
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HOST_CFLAGS  := -std=gnu11 $(WARN) -g -O1 $(SAN) $(INCS) -D_GNU_SOURCE
HOST_LDFLAGS := $(SAN)
# Same code optimised, for benchmarks and the shipped CLI; link-time
# optimisation lets the replay loop inline across trace/, host-sim/ and hv/devs
# (docs/replay.md, "Speed": ~8 % fewer instructions per replayed exit).
REL_CFLAGS   := -std=gnu11 $(WARN) -g -O2 -flto=auto $(INCS) -D_GNU_SOURCE
REL_LDFLAGS  := -g -O2 -flto=auto
# Freestanding (hypervisor side): no libc, no red zone, no SSE in our own code.
FREE_CFLAGS  := -std=gnu11 $(WARN) -O2 -g -ffreestanding -fno-builtin -nostdlib \
                -fno-stack-protector -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only \
                -mcmodel=kernel -fno-asynchronous-unwind-tables $(INCS) -DHVRR_FREESTANDING

HOST_LIBS  := -lprotobuf-c -lzstd

# Lists filled by fragments.
LIB_SRCS      :=   # portable C compiled into libhvrr.a (host + rel), e.g. hv/devs, trace, host-sim
LIB_GEN_SRCS  :=   # generated C under $(BUILD)/gen, compiled like LIB_SRCS
CLI_BINS      :=   # host programs (built from rel objects)
TEST_TARGETS  :=   # phony targets `make test` runs after `unit`
BENCH_TARGETS :=   # phony targets `make bench` runs after the bench/ programs
ALL_TARGETS   :=

# Pattern rules: host (sanitized), rel (optimised), free (freestanding).
$(BUILD)/host/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(BUILD)/rel/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(REL_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(BUILD)/free/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(FREE_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(BUILD)/host/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -Wno-unused-parameter $(DEPFLAGS) -c $< -o $@
$(BUILD)/rel/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(REL_CFLAGS) -Wno-unused-parameter $(DEPFLAGS) -c $< -o $@

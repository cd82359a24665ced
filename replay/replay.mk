# The `hvrr` CLI: main + one file per subcommand, built from release objects.
HVRR_CLI_SRCS := $(wildcard replay/*.c)
HVRR_CLI_OBJS := $(HVRR_CLI_SRCS:%.c=$(BUILD)/rel/%.o)
CLI_BINS      += $(BUILD)/hvrr

$(BUILD)/hvrr: $(HVRR_CLI_OBJS) $(BUILD)/rel/libhvrr.a
	$(Q)$(CC) $(REL_LDFLAGS) $^ -o $@ $(HOST_LIBS)

# Smoke test of the CLI on a synthetic trace and on damaged copies of it.
.PHONY: trace-cli-test
trace-cli-test: $(BUILD)/hvrr
	@mkdir -p $(BUILD)/tmp
	$(Q)HVRR=$(BUILD)/hvrr TMPDIR=$(BUILD)/tmp bash replay/cli_test.sh
TEST_TARGETS += trace-cli-test

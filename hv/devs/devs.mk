# Device models: portable C compiled into libhvrr.a (host) and into the
# hypervisor (freestanding).
DEVS_SRCS := $(wildcard hv/devs/*.c)
LIB_SRCS  += $(DEVS_SRCS)
DEVS_FREE_OBJS := $(DEVS_SRCS:%.c=$(BUILD)/free/%.o)

# Proof that the device layer is freestanding: each file compiles with
# -ffreestanding -nostdlib, and the linked whole needs nothing from outside but
# the four memory functions every freestanding environment provides.
DEVS_ALLOWED_UNDEF := memcpy memset memmove memcmp
.PHONY: devs-freestanding
devs-freestanding: $(DEVS_FREE_OBJS)
	$(Q)$(LD) -r -o $(BUILD)/free/hv/devs/all.o $(DEVS_FREE_OBJS)
	@bad=$$(nm -u $(BUILD)/free/hv/devs/all.o | awk '{print $$2}' | grep -vxE '$(subst $(subst ,, ),|,$(DEVS_ALLOWED_UNDEF))' || true); \
	if [ -n "$$bad" ]; then echo "devs-freestanding: undefined symbols: $$bad"; exit 1; fi; \
	echo "devs-freestanding: $(words $(DEVS_FREE_OBJS)) files compiled with -ffreestanding -nostdlib, no outside symbols"
TEST_TARGETS += devs-freestanding

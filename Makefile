# lamina — one non-recursive Makefile. `make V=1` shows the commands.
.DELETE_ON_ERROR:
# Keep objects that pattern rules would treat as intermediate.
.SECONDARY:
.SUFFIXES:

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc

PKGS    := libseccomp libcap jansson sqlite3 uuid libcrypto
WARN    := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
           -Werror=implicit-function-declaration -Wno-missing-field-initializers \
           -Wno-format-truncation
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -fno-strict-aliasing
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lm

ifeq ($(V),1)
Q :=
else
Q := @
endif

RUNTIME_SRC := $(wildcard runtime/*.c)
RUNTIME_OBJ := $(RUNTIME_SRC:%.c=$(BUILD)/obj/%.o)
RUNTIME_LIB := $(BUILD)/lib/liblamina-runtime.a

# laminad's modules, all but main, as a library the unit tests link too.
SCHED_SRC := $(filter-out scheduler/main.c,$(wildcard scheduler/*.c))
SCHED_OBJ := $(SCHED_SRC:%.c=$(BUILD)/obj/%.o)
SCHED_LIB := $(BUILD)/lib/liblamina-scheduler.a

CLI_SRC := $(wildcard tools/lamina/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

# Language runtimes' bootstraps and example handlers that run inside instances.
RUNTIME_FILES := $(BUILD)/runtimes/provided-echo/bootstrap $(BUILD)/runtimes/python-bytecode.stamp

BINS := $(BUILD)/bin/lamina-run $(BUILD)/bin/lamina $(BUILD)/bin/laminad
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
TEST_BINS := $(BUILD)/tests/probe $(UNIT_TESTS) $(BUILD)/tests/spawn_bench \
             $(BUILD)/tests/forkexec_bench

.PHONY: all test demo bench install format clean asan deps
all: $(BINS) $(TEST_BINS) $(RUNTIME_FILES)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(RUNTIME_LIB): $(RUNTIME_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

$(SCHED_LIB): $(SCHED_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

$(BUILD)/bin/lamina-run: $(BUILD)/obj/tools/lamina-run.o $(RUNTIME_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/lamina: $(CLI_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/laminad: $(BUILD)/obj/scheduler/main.o $(SCHED_LIB) $(RUNTIME_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# The C echo handler (a `provided` bootstrap): static, so it needs nothing inside.
$(BUILD)/runtimes/provided-echo/bootstrap: images/examples/provided-c/echo.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -static -o $@ $<

# Instances see the Python runtime read-only: its bytecode must be compiled beforehand
# (about 8 ms of every cold start otherwise).
$(BUILD)/runtimes/python-bytecode.stamp: $(wildcard images/runtimes/python3.11/*.py)
	@mkdir -p $(@D)
	$(Q)python3 -m compileall -q --invalidation-mode checked-hash images/runtimes/python3.11
	$(Q)chmod -R a+rX images/runtimes
	@touch $@

# The probe runs inside sandboxes and must not depend on anything but libc.
$(BUILD)/tests/probe: $(BUILD)/obj/tests/probe/probe.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -static -o $@ $^

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(SCHED_LIB) $(RUNTIME_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka

$(BUILD)/tests/%_bench: $(BUILD)/obj/tests/bench/%_bench.o $(RUNTIME_LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

deps:
	$(Q)scripts/install-deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh $(BUILD)

# The same tests against an AddressSanitizer/UBSan build of everything.
asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" all
	$(Q)LAMINA_SKIP_STATIC=1 tests/run.sh build-asan

demo: deps all
	$(Q)scripts/demo.sh $(BUILD)

bench: deps all
	$(Q)tests/bench/run.sh $(BUILD)

install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

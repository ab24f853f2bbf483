# lamina — one non-recursive Makefile. `make V=1` shows the commands.
.DELETE_ON_ERROR:
# Keep objects that pattern rules would treat as intermediate.
.SECONDARY:
.SUFFIXES:
# `make` alone builds everything, whatever section comes first below.
.DEFAULT_GOAL := all

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc

PKGS    := libseccomp libcap jansson sqlite3 uuid libcrypto libarchive
WARN    := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
           -Werror=implicit-function-declaration -Wno-missing-field-initializers \
           -Wno-format-truncation
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE -fno-strict-aliasing
# Static programs that run inside sandboxes cannot carry the sanitizers' runtimes.
STATIC_CFLAGS = $(filter-out -fsanitize=%,$(CFLAGS))
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

# Function images and their content-addressed store (images/*.c): laminad, lamina, tests.
IMAGES_SRC := $(wildcard images/*.c)
IMAGES_OBJ := $(IMAGES_SRC:%.c=$(BUILD)/obj/%.o)
IMAGES_LIB := $(BUILD)/lib/liblamina-images.a

# ---- eBPF probes (bpf/): the meter, its ground truth and its standalone check ---------
# vmlinux.h is dumped from the running kernel's BTF into $(BUILD)/bpf/ (never committed);
# each bpf/*.bpf.c is compiled for the BPF target (CO-RE; -mcpu=v3 for the atomics) and
# bpftool turns the object into a skeleton header that only its loader includes.
# Whatever uses bpf/meter.h links $(METER_LIB) and $(METER_LIBS) (Debian's libbpf).
BPFTOOL    ?= bpftool
BPF_CLANG  ?= clang
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Werror
METER_LIB  := $(BUILD)/lib/liblamina-meter.a
METER_LIBS  = $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf)
METER_BINS := $(BUILD)/tests/meter_check $(BUILD)/tests/groundtruth/bootstrap

.PHONY: meter
meter: $(METER_LIB) $(METER_BINS)
all: meter

$(BUILD)/bpf/vmlinux.h:
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BTF     $@")
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c >$@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/meter_abi.h $(BUILD)/bpf/vmlinux.h
	@$(if $(Q),echo "  BPF     $@")
	$(Q)$(BPF_CLANG) $(BPF_CFLAGS) -I$(BUILD)/bpf -Ibpf -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf >$@

$(BUILD)/obj/bpf/meter.o: $(BUILD)/bpf/meter.skel.h
$(BUILD)/obj/bpf/meter.o: PKG_CFLAGS += -I$(BUILD)/bpf

$(METER_LIB): $(BUILD)/obj/bpf/meter.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

# The ground-truth function (a `provided` bootstrap): static, it runs inside sandboxes.
$(BUILD)/tests/groundtruth/bootstrap: tests/functions/groundtruth.c images/examples/provided-c/runtime_api.c \
				      images/examples/provided-c/runtime_api.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(STATIC_CFLAGS) -Iimages/examples/provided-c -static -o $@ $(filter %.c,$^)

$(BUILD)/tests/meter_check: $(BUILD)/obj/tests/bpf/meter_check.o $(METER_LIB) $(RUNTIME_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(METER_LIBS)
# ---- end of the eBPF section ------------------------------------------------------------

CLI_SRC := $(wildcard tools/lamina/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

# Language runtimes' bootstraps and example handlers that run inside instances.
RUNTIME_FILES := $(BUILD)/runtimes/provided-echo/bootstrap $(BUILD)/runtimes/python-bytecode.stamp

BINS := $(BUILD)/bin/lamina-run $(BUILD)/bin/lamina $(BUILD)/bin/laminad
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
TEST_BINS := $(BUILD)/tests/probe $(UNIT_TESTS) $(BUILD)/tests/spawn_bench \
             $(BUILD)/tests/forkexec_bench $(BUILD)/tests/invoke_bench

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

$(IMAGES_LIB): $(IMAGES_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

$(BUILD)/bin/lamina-run: $(BUILD)/obj/tools/lamina-run.o $(RUNTIME_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/lamina: $(CLI_OBJ) $(IMAGES_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/laminad: $(BUILD)/obj/scheduler/main.o $(SCHED_LIB) $(IMAGES_LIB) $(RUNTIME_LIB) $(METER_LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(METER_LIBS)

# The C echo handler (a `provided` bootstrap): static, so it needs nothing inside.
# On lamina's small C client of the Runtime API (runtime_api.h), as the ground truth.
$(BUILD)/runtimes/provided-echo/bootstrap: images/examples/provided-c/echo.c images/examples/provided-c/runtime_api.c \
					   images/examples/provided-c/runtime_api.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(STATIC_CFLAGS) -static -o $@ $(filter %.c,$^)

# Instances see the Python runtime read-only: its bytecode must be compiled beforehand
# (about 8 ms of every cold start otherwise).
$(BUILD)/runtimes/python-bytecode.stamp: $(wildcard images/runtimes/python3.11/*.py)
	@mkdir -p $(@D)
	$(Q)python3 -m compileall -q --invalidation-mode checked-hash images/runtimes/python3.11
	$(Q)chmod -R a+rX images/runtimes
	@touch $@

# ---- language runtimes: java17, dotnet (Mono), go, and their examples ----------------
# Outputs that instances read at /var/runtime live in images/runtimes/<lang>/ (laminad binds
# that directory; .gitignore lists them). Compiled examples are complete deployable
# directories in $(BUILD)/examples/<lang>/ (lamina.json + code). `make lang-runtimes`.
JAVA17_HOME ?= $(firstword $(wildcard /usr/lib/jvm/java-17-openjdk-*))
JAVA_RT     := images/runtimes/java17
JAVA_RT_SRC := $(shell find $(JAVA_RT)/src -name '*.java' 2>/dev/null)
DOTNET_RT   := images/runtimes/dotnet
GO_ENV       = CGO_ENABLED=0 GOPROXY=off GOFLAGS=-mod=mod GOCACHE=$(abspath $(BUILD))/go-cache
LANG_FILES  := $(JAVA_RT)/bootstrap $(JAVA_RT)/lamina-runtime.jar $(BUILD)/java17/cds.stamp \
               $(DOTNET_RT)/bootstrap.exe $(DOTNET_RT)/Amazon.Lambda.Core.dll $(BUILD)/dotnet/aot.stamp \
               $(BUILD)/examples/java/lamina.json $(BUILD)/examples/dotnet/lamina.json \
               $(BUILD)/examples/go/lamina.json

.PHONY: lang-runtimes
lang-runtimes: $(LANG_FILES)
all: lang-runtimes

# java17: a static launcher (sizes the JVM to the function), the runtime's jar, and a
# class-data-sharing archive of the JDK and runtime classes a training run loads.
$(JAVA_RT)/bootstrap: $(JAVA_RT)/launcher.c
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(STATIC_CFLAGS) -static -DJAVA_BIN='"$(JAVA17_HOME)/bin/java"' -o $@ $<
	$(Q)chmod 0755 $@

# Compiled with -XDstringConcat=inline: each `+` call site would otherwise be linked by
# invokedynamic at its first run, ~1 ms each, all in the first cold start (user code's
# are rewritten so as it loads: ConcatRewriter.java). Except Sample.java, the training
# run's handlers, recompiled as user code is.
$(JAVA_RT)/lamina-runtime.jar: $(JAVA_RT_SRC)
	@$(if $(Q),echo "  JAVAC   $@")
	$(Q)rm -rf $(BUILD)/java17/classes && mkdir -p $(BUILD)/java17/classes
	$(Q)$(JAVA17_HOME)/bin/javac -nowarn -XDignore.symbol.file -XDstringConcat=inline -d $(BUILD)/java17/classes $^
	$(Q)$(JAVA17_HOME)/bin/javac -nowarn -cp $(BUILD)/java17/classes -d $(BUILD)/java17/classes \
		$(filter %/Sample.java,$^)
	$(Q)$(JAVA17_HOME)/bin/jar --create --file $@.tmp -C $(BUILD)/java17/classes .
	$(Q)chmod 0644 $@.tmp && mv $@.tmp $@

# The archive records the runtime jar's path, which must be /var/runtime/... as inside an
# instance: make-cds.sh dumps it in a private mount namespace (root only; without it,
# instances simply start without the archive, slower).
$(BUILD)/java17/cds.stamp: $(JAVA_RT)/lamina-runtime.jar $(JAVA_RT)/make-cds.sh $(JAVA17_HOME)/lib/modules
	@$(if $(Q),echo "  CDS     $(JAVA_RT)/lamina.jsa")
	@mkdir -p $(@D)
	$(Q)$(JAVA_RT)/make-cds.sh $(JAVA17_HOME) $(JAVA_RT) $(BUILD)/java17 && touch $@

# dotnet: the bootstrap is a C# program; Amazon.Lambda.Core.dll holds the context types
# handlers compile against. Both AOT-compiled when Mono can (start-up without the JIT).
$(DOTNET_RT)/Amazon.Lambda.Core.dll: $(wildcard $(DOTNET_RT)/core/*.cs)
	@$(if $(Q),echo "  MCS     $@")
	$(Q)mcs -nologo -optimize+ -unsafe -target:library -out:$@ $^ && chmod 0644 $@

$(DOTNET_RT)/bootstrap.exe: $(wildcard $(DOTNET_RT)/src/*.cs) $(DOTNET_RT)/Amazon.Lambda.Core.dll
	@$(if $(Q),echo "  MCS     $@")
	$(Q)mcs -nologo -optimize+ -unsafe -target:exe -r:$(DOTNET_RT)/Amazon.Lambda.Core.dll \
		-out:$@ $(filter %.cs,$^) && chmod 0644 $@

$(BUILD)/dotnet/aot.stamp: $(DOTNET_RT)/bootstrap.exe $(DOTNET_RT)/Amazon.Lambda.Core.dll
	@$(if $(Q),echo "  AOT     $(DOTNET_RT)")
	@mkdir -p $(@D)
	$(Q)rm -f $(BUILD)/dotnet/aot.log; for a in $^; do mono --aot $$a >>$(BUILD)/dotnet/aot.log 2>&1 || \
		{ echo "  (mono --aot $$a failed: it will JIT; see $(BUILD)/dotnet/aot.log)"; rm -f $$a.so; }; done
	$(Q)chmod a+r $(DOTNET_RT)/*.so 2>/dev/null; touch $@

# Examples of the compiled languages, as deployable directories.
$(BUILD)/examples/java/lamina.json: images/examples/java/lamina.json $(wildcard images/examples/java/src/example/*.java) $(JAVA_RT)/lamina-runtime.jar
	@$(if $(Q),echo "  JAVAC   $(@D)/example.jar")
	$(Q)rm -rf $(@D) $(BUILD)/java17/example && mkdir -p $(@D) $(BUILD)/java17/example
	$(Q)$(JAVA17_HOME)/bin/javac -nowarn -cp $(JAVA_RT)/lamina-runtime.jar -d $(BUILD)/java17/example \
		$(wildcard images/examples/java/src/example/*.java)
	$(Q)$(JAVA17_HOME)/bin/jar --create --file $(@D)/example.jar -C $(BUILD)/java17/example .
	$(Q)cp $< $@ && chmod -R a+rX $(@D)

# Example.dll is AOT-compiled as a user can (mono --aot, Example.dll.so beside it): ~1 ms
# less JIT at its cold start.
$(BUILD)/examples/dotnet/lamina.json: images/examples/dotnet/lamina.json $(wildcard images/examples/dotnet/*.cs) $(DOTNET_RT)/Amazon.Lambda.Core.dll
	@$(if $(Q),echo "  MCS     $(@D)/Example.dll")
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)mcs -nologo -optimize+ -target:library -r:$(DOTNET_RT)/Amazon.Lambda.Core.dll \
		-out:$(@D)/Example.dll $(wildcard images/examples/dotnet/*.cs)
	$(Q)mkdir -p $(BUILD)/dotnet && MONO_PATH=$(DOTNET_RT) mono --aot $(@D)/Example.dll >$(BUILD)/dotnet/example-aot.log 2>&1 || \
		{ echo "  (mono --aot Example.dll failed: it will JIT; see $(BUILD)/dotnet/example-aot.log)"; rm -f $(@D)/Example.dll.so; }
	$(Q)cp $< $@ && chmod -R a+rX $(@D)

$(BUILD)/examples/go/lamina.json: images/examples/go/lamina.json $(wildcard images/examples/go/*.go images/examples/go/go.mod) $(wildcard images/runtimes/go/lamina/*.go images/runtimes/go/lamina/go.mod)
	@$(if $(Q),echo "  GO      $(@D)/bootstrap")
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)cd images/examples/go && $(GO_ENV) go build -trimpath -ldflags='-s -w' -o $(abspath $(@D))/bootstrap .
	$(Q)cp $< $@ && chmod -R a+rX $(@D)

# The probe runs inside sandboxes and must not depend on anything but libc.
$(BUILD)/obj/tests/probe/%.o: tests/probe/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(STATIC_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/probe: $(BUILD)/obj/tests/probe/probe.o
	@mkdir -p $(@D)
	$(Q)$(CC) $(STATIC_CFLAGS) -static -o $@ $^

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(SCHED_LIB) $(IMAGES_LIB) $(RUNTIME_LIB)
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

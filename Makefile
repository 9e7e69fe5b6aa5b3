# pybpf: build the BPF objects (clang, build time only), test, demo, bench.
CLANG       ?= clang-19
LLVM_STRIP  ?= llvm-strip-19
CLANG_MAJOR := 19
PYTHON      ?= python3
ARCH        := x86
BPF_CFLAGS  := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ibpf_src/include \
               -fno-ident -Wall -Wno-unused-function
# scripts/bpf_cc.sh compiles (from a fixed-length temporary path, mapped to "." in the debug
# info, so that objects are byte-identical on any checkout path) and strips DWARF.
BPF_CC      := CLANG=$(CLANG) LLVM_STRIP=$(LLVM_STRIP) BPF_CFLAGS="$(BPF_CFLAGS)" bash scripts/bpf_cc.sh

TOOL_SRCS   := $(wildcard bpf_src/tools/*.bpf.c)
TEST_SRCS   := $(wildcard bpf_src/tests/*.bpf.c)
TOOL_OBJS   := $(patsubst bpf_src/tools/%.bpf.c,pybpf/bpf/%.bpf.o,$(TOOL_SRCS))
TEST_OBJS   := $(patsubst bpf_src/tests/%.bpf.c,pybpf/bpf/tests/%.bpf.o,$(TEST_SRCS))
HEADERS     := $(wildcard bpf_src/include/*.h)

.PHONY: all objects check-clang check-objects cffi deps test soak unit demo bench matrix lint clean

all: objects

objects: check-clang $(TOOL_OBJS) $(TEST_OBJS)

check-clang:
	@$(CLANG) --version | head -1 | grep -q "version $(CLANG_MAJOR)\." || \
	  { echo "need clang $(CLANG_MAJOR) ($(CLANG)); run 'make deps'"; exit 1; }

pybpf/bpf/%.bpf.o: bpf_src/tools/%.bpf.c $(HEADERS) scripts/bpf_cc.sh
	$(BPF_CC) $< $@

pybpf/bpf/tests/%.bpf.o: bpf_src/tests/%.bpf.c $(HEADERS) scripts/bpf_cc.sh
	$(BPF_CC) $< $@

# Rebuild every object into build/objcheck and compare with the committed ones.
check-objects: check-clang
	@rm -rf build/objcheck && mkdir -p build/objcheck/tests
	@set -e; for s in $(TOOL_SRCS) $(TEST_SRCS); do \
	  case $$s in bpf_src/tools/*) o=build/objcheck/$$(basename $$s .c).o;; \
	              *) o=build/objcheck/tests/$$(basename $$s .c).o;; esac; \
	  $(BPF_CC) $$s $$o; done
	@set -e; bad=0; for o in $(TOOL_OBJS) $(TEST_OBJS); do \
	  r=build/objcheck/$${o#pybpf/bpf/}; \
	  cmp -s $$o $$r || { echo "committed object differs from rebuild: $$o"; bad=1; }; done; \
	  [ $$bad = 0 ] && echo "objects: $(words $(TOOL_OBJS) $(TEST_OBJS)) committed objects match a rebuild"

# cffi out-of-line ABI module (committed): regenerate after editing pybpf/sys/cdefs_src.py
cffi:
	$(PYTHON) -m pybpf.sys.build_cffi

deps:
	bash scripts/setup.sh

# The whole test suite, on a fresh Debian machine as root.
# The attach/detach soaks run PYBPF_HYGIENE_CYCLES cycles (1000 here; `make soak` runs 10,000).
# Then the same kernel tests on Debian's 5.10/6.1/6.12/7.2 kernels under qemu (`make matrix`;
# PYBPF_SKIP_MATRIX=1 leaves it out).
test: deps check-objects
	PYBPF_REQUIRE_KERNEL=1 PYBPF_HYGIENE_CYCLES=$${PYBPF_HYGIENE_CYCLES:-1000} \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/unit tests/kernel --junitxml=build/junit-host.xml
	@if [ "$${PYBPF_SKIP_MATRIX:-0}" != 1 ]; then $(MAKE) --no-print-directory matrix; fi

soak:
	PYBPF_REQUIRE_KERNEL=1 PYBPF_HYGIENE_CYCLES=10000 \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/kernel/test_attach_hygiene.py -m slow

unit:
	$(PYTHON) -m pytest -q tests/unit

matrix:
	$(PYTHON) tests/matrix/vmtest.py

demo: deps
	PYTHON=$(PYTHON) bash scripts/demo.sh

bench:
	@for b in bench/[!_]*.py; do echo "== $$b"; $(PYTHON) $$b || exit 1; done

lint:
	ruff check pybpf tests bench

clean:
	rm -rf build

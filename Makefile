# tinystore — the two entry points a newcomer needs:
#   make run    build (release) and run the main job
#   make test   every gate, every test of every language that exists, and a short fuzz run
# Both install what they need (rustfmt/clippy components) themselves.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

# The TinyBase reference kit (../shared/kit) is installed into target/kit, so that the shared
# folder stays read-only; differential tests find TinyBase there.
KIT ?= ../shared/kit
KIT_DIR := $(CURDIR)/target/kit
export TINYSTORE_KIT ?= $(abspath $(KIT))
export TINYSTORE_NODE_MODULES ?= $(KIT_DIR)/node_modules

# The release `tinystore` binary and libtinystore, always built together: one cargo invocation
# resolves their dependencies' features once, so tinystore-core and its dependencies are built
# once for both (built apart, features that UniFFI turns on in shared crates differ, and every
# crate below the two was compiled twice: four minutes of `make test`).
RELEASE_BUILD = $(CARGO) build --release -p tinystore-cli -p tinystore-ffi

.PHONY: run test setup kit fmt-check clippy clippy-and-kit rust-test bench docs clean fuzz-smoke

run: setup
	$(RELEASE_BUILD)
	target/release/tinystore demo

setup:
	@command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

# npm ci of the kit's pinned packages (redone only when its lock file changes), the native
# better-sqlite3 addon built (npm 11 does not run install scripts by itself), peer.mjs, and
# the TinyBase-side scripts of tests/interop/{postgres,remote,yjs,automerge} (copied beside
# node_modules so that their imports resolve).
kit:
	@command -v node >/dev/null || { echo "node (>= 20) is required for the TinyBase differential tests"; exit 1; }
	@test -f $(KIT)/package-lock.json || { echo "the reference kit is missing: expected $(KIT)"; exit 1; }
	@mkdir -p $(KIT_DIR)
	@if ! cmp -s $(KIT)/package-lock.json $(KIT_DIR)/.installed-lock; then \
		cp $(KIT)/package.json $(KIT)/package-lock.json $(KIT_DIR)/ && \
		(cd $(KIT_DIR) && npm ci --no-audit --no-fund --loglevel=error && \
		 npm rebuild better-sqlite3 --loglevel=error) && \
		cp $(KIT)/package-lock.json $(KIT_DIR)/.installed-lock; \
	fi
	@cp $(KIT)/peer.mjs $(KIT_DIR)/peer.mjs
	@cp tests/interop/postgres/tb-postgres.mjs $(KIT_DIR)/tb-postgres.mjs
	@cp tests/interop/remote/tb-remote.mjs $(KIT_DIR)/tb-remote.mjs
	@cp tests/interop/yjs/tb-yjs.mjs $(KIT_DIR)/tb-yjs.mjs
	@cp tests/interop/automerge/tb-automerge.mjs $(KIT_DIR)/tb-automerge.mjs
	@cp cli/bench/postgres.mjs $(KIT_DIR)/postgres-bench.mjs
	@cp cli/bench/startup.mjs $(KIT_DIR)/startup-bench.mjs
	@cp cli/bench/bench-common.mjs $(KIT_DIR)/bench-common.mjs

fmt-check: setup
	$(CARGO) fmt --all --check

clippy: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-test: setup kit
	$(CARGO) test --workspace

# clippy (CPU-bound) beside the kit's npm install (network- and disk-bound): on a fresh clone
# each takes minutes.
clippy-and-kit:
	@$(MAKE) --no-print-directory -j2 --output-sync=target clippy kit

# Release builds of the core: the shipped wheel's (py-test, zig, its own target directory,
# reused by dist) and cargo's (RELEASE_BUILD: the CLI and the library together, first needed
# by py-test; bench-quick then runs the release CLI), each made once.
test: fmt-check clippy-and-kit rust-test fuzz-smoke py-test inspector-test bench-quick c-test kotlin-test swift-check examples-test dist-test docs
	@bash tests/postgres/pg.sh stop
	@echo "make test: all gates passed"

# The throwaway PostgreSQL cluster of the PostgreSQL suites (target/pg): the suites start it
# themselves (installing PostgreSQL when missing); `make test` stops it at the end.
.PHONY: pg-start pg-stop
pg-start:
	@bash tests/postgres/pg.sh start
pg-stop:
	@bash tests/postgres/pg.sh stop

# The C ABI: libtinystore (release, built once) + include/tinystore.h. The header drift check
# regenerates the header with the pinned cbindgen into a temporary file and diffs it; the ctest
# suite (tests/c) runs each case against the shared library, the static library, and under
# AddressSanitizer + LeakSanitizer; then the install script, the CMake package and pkg-config
# file are exercised by building and running the C example (examples/c) against a test prefix.
CBINDGEN_VERSION := 0.29.4
C_BUILD := $(CURDIR)/target/c
C_TARGET_DIR = $${CARGO_TARGET_DIR:-$(CURDIR)/target}
C_GENERATOR := $(if $(shell command -v ninja),-G Ninja,)

.PHONY: c-test cbindgen
cbindgen:
	@cbindgen --version 2>/dev/null | grep -qx 'cbindgen $(CBINDGEN_VERSION)' || \
		$(CARGO) install cbindgen --version $(CBINDGEN_VERSION) --locked

c-test: setup cbindgen
	@command -v cmake >/dev/null || { echo "cmake (>= 3.16) and a C/C++ compiler are required for the C tests"; exit 1; }
	$(RELEASE_BUILD)
	@# The library's SONAME is libtinystore.so.0: what the tests' executables will look for.
	@[ "$$(uname -s)" = Darwin ] || ln -sf libtinystore.so "$(C_TARGET_DIR)/release/libtinystore.so.0"
	@tmp=$$(mktemp -d) && \
		cbindgen --quiet --config ffi/cbindgen.toml --crate tinystore-ffi --output $$tmp/tinystore.h ffi && \
		if diff -u include/tinystore.h $$tmp/tinystore.h; then rm -rf $$tmp; echo "include/tinystore.h is up to date"; \
		else rm -rf $$tmp; echo "include/tinystore.h is out of date: regenerate it (see ffi/cbindgen.toml)"; exit 1; fi
	cmake -S tests/c -B $(C_BUILD)/tests $(C_GENERATOR) -DTINYSTORE_PROFILE=release -DTINYSTORE_TARGET_DIR="$(C_TARGET_DIR)"
	cmake --build $(C_BUILD)/tests
	cd $(C_BUILD)/tests && ctest --output-on-failure -j2
	sh ffi/install.sh --no-build --prefix $(C_BUILD)/prefix
	cmake -S examples/c -B $(C_BUILD)/example $(C_GENERATOR) -DCMAKE_PREFIX_PATH=$(C_BUILD)/prefix
	cmake --build $(C_BUILD)/example
	rm -f $(C_BUILD)/example/quickstart.sqlite
	cd $(C_BUILD)/example && ./quickstart && ./quickstart_static "" quickstart.sqlite
	@if command -v pkg-config >/dev/null; then \
		set -x && cc -o $(C_BUILD)/example/quickstart_pkgconfig examples/c/quickstart.c -std=c99 \
			-D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
			$$(PKG_CONFIG_PATH=$(C_BUILD)/prefix/lib/pkgconfig pkg-config --cflags --libs tinystore) \
			-Wl,-rpath,$(C_BUILD)/prefix/lib && \
		cd $(C_BUILD)/example && ./quickstart_pkgconfig "" quickstart.sqlite >/dev/null; \
	else echo "pkg-config not found: skipping the pkg-config build of the example"; fi
	@echo "make c-test: C ABI header, tests and example passed"

# Benchmarks (../shared/perf/WORKLOADS.md; results and analysis in docs/benchmarks.md).
# `make bench`: builds tinystore (release) once, then runs its workloads beside TinyBase's, the
# CRDT peers' (Yjs, Loro) and the Rust limits' (L1-L6) on this machine in one go, interleaved
# run by run, each run in a fresh process (BENCH_RUNS, default 3), keeps the JSON lines in
# target/perf/results/latest and regenerates docs/benchmarks.md from them. The reference
# programs come from ../shared/perf; their node_modules and the limits build go to target/perf.
# `make bench-quick`: every workload at tiny sizes, one run, checks only (no timings): for CI;
# then W1-W3's instruction counts under callgrind (cli/bench/instructions.py, ~1 min), compared
# with cli/bench/instructions.json: a `REGRESSION:` line for a count grown > 5%, reported, not
# failed (a compiler update moves them too); `python3 cli/bench/instructions.py --update`
# records new figures.
# (Criterion benches for profiling: `cargo bench -p tinystore-core --bench store|mergeable|...`.)
PERF ?= ../shared/perf
PERF_DIR := $(CURDIR)/target/perf
BENCH_RUNS ?= 3
BENCH_OUT ?= $(PERF_DIR)/results/latest

.PHONY: bench-quick perf-deps
bench: setup perf-deps
	$(RELEASE_BUILD)
	@rc=0; python3 cli/bench/run.py --runs $(BENCH_RUNS) --out $(BENCH_OUT) --work $(PERF_DIR) \
		--tinystore target/release/tinystore || rc=$$?; \
	python3 cli/bench/report.py $(BENCH_OUT) --perf $(PERF) --out docs/benchmarks.md && \
	sed -n '/^## Targets/,/^## Scaled-up/p' docs/benchmarks.md | sed '$$d' && \
	echo "docs/benchmarks.md written from $(BENCH_OUT)"; exit $$rc

bench-quick:
	@mkdir -p $(PERF_DIR)
	$(RELEASE_BUILD)
	target/release/tinystore bench --quick > $(PERF_DIR)/quick.jsonl
	python3 cli/bench/instructions.py --tinystore target/release/tinystore

# TinyBase's and the peers' benches with their pinned packages (npm ci, redone only when a lock
# file changes; sqlite3's native addon built from source), and the limits program built as its
# own workspace (the shared folder stays read-only).
perf-deps:
	@command -v node >/dev/null || { echo "node (>= 20) is required for make bench"; exit 1; }
	@command -v python3 >/dev/null || { echo "python3 is required for make bench"; exit 1; }
	@for d in tinybase peers; do \
		mkdir -p $(PERF_DIR)/$$d && \
		if ! cmp -s $(PERF)/$$d/package-lock.json $(PERF_DIR)/$$d/.installed-lock; then \
			install -m 644 $(PERF)/$$d/package.json $(PERF)/$$d/package-lock.json $(PERF)/$$d/.npmrc \
				$(PERF_DIR)/$$d/ && \
			(cd $(PERF_DIR)/$$d && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
			if [ $$d = tinybase ] && [ ! -f $(PERF_DIR)/$$d/node_modules/sqlite3/build/Release/node_sqlite3.node ]; then \
				(cd $(PERF_DIR)/$$d && npm rebuild sqlite3 --build-from-source --loglevel=error) || exit 1; \
			fi; \
			install -m 644 $(PERF)/$$d/package-lock.json $(PERF_DIR)/$$d/.installed-lock; \
		fi; \
		install -p -m 644 $(PERF)/$$d/bench.mjs $(PERF_DIR)/$$d/bench.mjs || exit 1; \
	done
	@install -p -m 644 cli/bench/views.mjs cli/bench/bench-common.mjs $(PERF_DIR)/tinybase/
	@mkdir -p $(PERF_DIR)/limits/src
	@install -p -m 644 $(PERF)/limits/src/main.rs $(PERF_DIR)/limits/src/main.rs
	@{ cat $(PERF)/limits/Cargo.toml; printf '\n# Built here as its own workspace.\n[workspace]\n'; } \
		> $(PERF_DIR)/limits/Cargo.toml.new
	@cmp -s $(PERF_DIR)/limits/Cargo.toml.new $(PERF_DIR)/limits/Cargo.toml && \
		rm $(PERF_DIR)/limits/Cargo.toml.new || mv $(PERF_DIR)/limits/Cargo.toml.new $(PERF_DIR)/limits/Cargo.toml
	cd $(PERF_DIR)/limits && $(CARGO) build --release -q

clean:
	$(CARGO) clean

# A short run of every fuzz target (longer runs by hand: core/fuzz/README.md). cargo-fuzz needs
# nightly features; RUSTC_BOOTSTRAP=1 lets the stable toolchain provide them. The build has its
# own target dir (core/fuzz/target: instrumented with ASan).
FUZZ_SECONDS ?= 10
# The smoke run builds without optimisation (--dev: half the build time of cargo-fuzz's default
# optimised build, still with ASan, debug assertions and overflow checks); long runs by hand
# want FUZZ_PROFILE=--release.
FUZZ_PROFILE ?= --dev
FUZZ_TARGETS := json_parse mergeable_json store_json ops_script sync_protocol yjs_update automerge_doc
fuzz-smoke: setup
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --version 0.13.2 --locked
	cd core && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build $(FUZZ_PROFILE)
	@mkdir -p core/fuzz/corpus
	cd core && for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $(FUZZ_PROFILE) $$t fuzz/corpus/$$t -- \
			-dict=fuzz/dicts/tinystore.dict -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
			>/dev/null 2>fuzz/corpus/$$t.log || { tail -40 fuzz/corpus/$$t.log; exit 1; }; \
		echo "fuzz $$t: $(FUZZ_SECONDS) s, no crash"; \
	done

# ---- UniFFI bindings (bindings/): Python, Kotlin/JVM, Swift -------------------------------
# Python: a venv under target/ with the very wheel `make dist` ships (`ffi/dist.sh wheel`:
# maturin builds the release libtinystore with zig against glibc 2.17 in
# target/x86_64-unknown-linux-gnu and runs the pinned bindings/uniffi-bindgen), then pytest,
# whose sync tests run `tinystore serve` (release) and TinyBase's server from the kit.
PYTHON ?= python3
PY_VENV := $(CURDIR)/target/py-venv
UNIFFI_BINDGEN := $(CURDIR)/target/debug/uniffi-bindgen
BINDINGS_GEN := $(CURDIR)/target/bindings

.PHONY: py-install py-test bindings kotlin-test swift-check swift-bless examples-test

# Reinstalls only when a source of the library or of the package changed (a stamp in the venv).
PY_STAMP := $(PY_VENV)/.tinystore-installed
PY_DEPS := $(shell find core/src ffi/src bindings/python/python -type f 2>/dev/null) \
	Cargo.lock core/Cargo.toml ffi/Cargo.toml ffi/build.rs ffi/uniffi.toml ffi/dist.sh \
	bindings/python/pyproject.toml
py-install: setup $(PY_STAMP)

$(PY_STAMP): $(PY_DEPS)
	@test -x $(PY_VENV)/bin/python || $(PYTHON) -m venv $(PY_VENV)
	@$(PY_VENV)/bin/python -m pip install -q --disable-pip-version-check pytest
	PYTHON=$(PYTHON) bash ffi/dist.sh wheel
	$(PY_VENV)/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps target/wheels/tinystore-*.whl
	@touch $@

py-test: setup kit py-install
	@$(PY_VENV)/bin/python -m pip install -q --disable-pip-version-check prometheus-client==0.21.1
	$(RELEASE_BUILD)
	cd bindings/python && TINYSTORE_BIN=$(CURDIR)/target/release/tinystore $(PY_VENV)/bin/python -m pytest -q tests

# The /inspector page of `tinystore serve` in headless Chromium (tests/inspector): Debian's
# chromium package (installed when missing, which needs root) driven by playwright-core, pinned
# by tests/inspector/package-lock.json and installed into target/inspector-node like the kit
# (npm ci redone only when the lock file changes; playwright-core downloads no browser), TinyBase
# clients from the kit, the release CLI. It writes docs/inspector.png, the docs' screenshot.
INSPECTOR_NODE := $(CURDIR)/target/inspector-node
.PHONY: inspector-test
inspector-test: kit
	@command -v chromium >/dev/null || { \
		echo "inspector-test: chromium is missing: apt-get install -y chromium"; \
		[ "$$(id -u)" = 0 ] || { echo "inspector-test: installing chromium needs root: run 'apt-get install -y chromium' as root"; exit 1; }; \
		apt-get install -y chromium || { apt-get update && apt-get install -y chromium; } || \
			{ echo "inspector-test: 'apt-get install -y chromium' failed (see above): the browser test cannot run"; exit 1; }; }
	@mkdir -p $(INSPECTOR_NODE)
	@if ! cmp -s tests/inspector/package-lock.json $(INSPECTOR_NODE)/.installed-lock; then \
		cp tests/inspector/package.json tests/inspector/package-lock.json $(INSPECTOR_NODE)/ && \
		(cd $(INSPECTOR_NODE) && npm ci --no-audit --no-fund --loglevel=error) && \
		cp tests/inspector/package-lock.json $(INSPECTOR_NODE)/.installed-lock; \
	fi
	$(RELEASE_BUILD)
	TINYSTORE_BIN=$(CURDIR)/target/release/tinystore INSPECTOR_NODE_MODULES=$(INSPECTOR_NODE)/node_modules \
		INSPECTOR_CHROMIUM=$$(command -v chromium) node --test --test-reporter=spec --test-timeout=90000 \
		tests/inspector/inspector.test.mjs

# Kotlin and Swift sources generated from the release library by the pinned bindgen (built as
# maturin builds it for the Python package, `--bin` from the root, so that the two share it).
bindings: setup
	$(RELEASE_BUILD)
	$(CARGO) build --bin uniffi-bindgen
	rm -rf $(BINDINGS_GEN)/kotlin $(BINDINGS_GEN)/swift
	$(UNIFFI_BINDGEN) generate target/release/libtinystore.so -l kotlin --no-format -o $(BINDINGS_GEN)/kotlin
	$(UNIFFI_BINDGEN) generate target/release/libtinystore.so -l swift --no-format -o $(BINDINGS_GEN)/swift

# Kotlin on the JVM: the generated sources (make bindings) + bindings/kotlin (Maven: Kotlin,
# JNA, coroutines, JUnit 5) against the release libtinystore; the sync tests run `tinystore
# serve`, TinyBase's server from the kit, and a Python store (target/py-venv) beside a Kotlin one.
# `install` (tests, then the JAR into ~/.m2 for the examples): a stamp holding a hash of the
# sources it was built from lets examples-test skip a second Kotlin build of the same sources.
MVN ?= mvn
KOTLIN_STAMP := $(CURDIR)/target/kotlin-installed
KOTLIN_HASH = find $(BINDINGS_GEN)/kotlin bindings/kotlin/src bindings/kotlin/pom.xml -type f -print0 \
	| sort -z | xargs -0 sha256sum | sha256sum
kotlin-test: setup kit bindings py-install
	@command -v $(MVN) >/dev/null || { echo "Maven and a JDK (>= 17) are required for the Kotlin tests"; exit 1; }
	$(RELEASE_BUILD)
	@rm -f $(KOTLIN_STAMP)
	$(MVN) -B --no-transfer-progress -f bindings/kotlin/pom.xml install -Dtinystore.python=$(PY_VENV)/bin/python
	@$(KOTLIN_HASH) > $(KOTLIN_STAMP)

# Swift: no Swift compiler on these machines; bindings/swift/check.py checks what can be
# checked (generated sources up to date, FFI header compiles, FFI symbols exported, every Swift
# file parses with tree-sitter-swift). `make swift-bless` rewrites the committed generated files.
swift-check: setup bindings py-install
	@$(PY_VENV)/bin/python -m pip install -q --disable-pip-version-check tree-sitter==0.26.1 tree-sitter-swift==0.7.4
	$(PY_VENV)/bin/python bindings/swift/check.py target/release/libtinystore.so $(UNIFFI_BINDGEN)

swift-bless: bindings py-install
	@$(PY_VENV)/bin/python -m pip install -q --disable-pip-version-check tree-sitter==0.26.1 tree-sitter-swift==0.7.4
	$(PY_VENV)/bin/python bindings/swift/check.py target/release/libtinystore.so $(UNIFFI_BINDGEN) --bless

# The examples (examples/): the Rust derived-views todo list, then the Python and Kotlin todo
# examples synced through one `tinystore serve`.
examples-test: setup bindings py-install
	$(RELEASE_BUILD)
	@if [ "$$($(KOTLIN_HASH))" = "$$(cat $(KOTLIN_STAMP) 2>/dev/null)" ]; then \
		echo "dev.tinystore:tinystore in ~/.m2 is built from these sources (make kotlin-test)"; \
	else rm -f $(KOTLIN_STAMP) && \
		$(MVN) -B -q --no-transfer-progress -f bindings/kotlin/pom.xml install -DskipTests && \
		$(KOTLIN_HASH) > $(KOTLIN_STAMP); fi
	@# --workspace: the features cargo test resolved, so that nothing is compiled again.
	$(CARGO) build -q --workspace --examples
	target/debug/examples/todo_views
	$(CARGO) test -q --workspace --test examples
	PYTHON=$(PY_VENV)/bin/python MVN=$(MVN) examples/test-examples.sh

# ---- Distribution (dist/): prebuilt artefacts for users without a Rust toolchain -------------
# `make dist` (ffi/dist.sh): the Python wheel (py3-none-manylinux_2_17) and sdist, the C SDK
# tarball, and the JAR with libtinystore inside plus its sources and javadoc JARs in a Maven
# repository (dist/maven), all from one release build of the library (maturin's, linked by zig
# against glibc 2.17), checked: SONAME, exported symbols, auditwheel. `make dist-test`
# (tests/dist/clean-room.sh): each installed and run as a user would, cargo and rustc off PATH.
.PHONY: dist dist-test
dist: setup bindings
	PYTHON=$(PYTHON) MVN=$(MVN) bash ffi/dist.sh

dist-test: dist
	$(RELEASE_BUILD)
	PYTHON=$(PYTHON) MVN=$(MVN) bash tests/dist/clean-room.sh

# API reference per language, into target/docs (CI builds it: warnings are errors): rustdoc of
# tinystore-core with every feature (`#![warn(missing_docs)]`, broken links, an example on every
# public item: tests/docs/examples.sh), pydoc of the Python package (a test checks no public
# name lacks a docstring), Dokka of the Kotlin layer (the javadoc JAR of `make dist`); the C
# reference is the header itself (include/README.md).
docs: setup py-install
	CARGO=$(CARGO) bash tests/docs/examples.sh
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p tinystore-core --all-features
	@mkdir -p target/docs/python
	cd target/docs/python && $(PY_VENV)/bin/python -W error -m pydoc -w tinystore >/dev/null
	@test -s target/docs/python/tinystore.html
	@echo "docs: target/doc/tinystore_core (Rust), target/docs/python (Python), target/kotlin (Dokka, make dist)"

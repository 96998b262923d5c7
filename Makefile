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

.PHONY: run test setup kit fmt-check clippy rust-test bench docs clean fuzz-smoke

run: setup
	$(CARGO) run --release -p tinystore-cli -- demo

setup:
	@command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

# npm ci of the kit's pinned packages (redone only when its lock file changes), the native
# better-sqlite3 addon built (npm 11 does not run install scripts by itself), and peer.mjs.
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

fmt-check: setup
	$(CARGO) fmt --all --check

clippy: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-test: setup kit
	$(CARGO) test --workspace

test: fmt-check clippy kit rust-test fuzz-smoke
	@echo "make test: all gates passed"

# Criterion benchmarks of workloads W1-W3 (../shared/perf/WORKLOADS.md); see docs/benchmarks.md.
bench: setup
	$(CARGO) bench -p tinystore-core --bench store

clean:
	$(CARGO) clean

# A short run of every fuzz target (longer runs by hand: core/fuzz/README.md). cargo-fuzz needs
# nightly features; RUSTC_BOOTSTRAP=1 lets the stable toolchain provide them. The build has its
# own target dir (core/fuzz/target: instrumented with ASan).
FUZZ_SECONDS ?= 10
FUZZ_TARGETS := json_parse mergeable_json store_json ops_script sync_protocol
fuzz-smoke: setup
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --version 0.13.2 --locked
	cd core && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build
	@mkdir -p core/fuzz/corpus
	cd core && for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t fuzz/corpus/$$t -- \
			-dict=fuzz/dicts/tinystore.dict -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
			>/dev/null 2>fuzz/corpus/$$t.log || { tail -40 fuzz/corpus/$$t.log; exit 1; }; \
		echo "fuzz $$t: $(FUZZ_SECONDS) s, no crash"; \
	done

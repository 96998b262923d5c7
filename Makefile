# tinystore — the two entry points a newcomer needs:
#   make run    build (release) and run the main job
#   make test   every gate and every test of every language that exists
# Both install what they need (rustfmt/clippy components) themselves.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

# The TinyBase reference kit (../shared/kit) is installed into target/kit, so that the shared
# folder stays read-only; differential tests find TinyBase there.
KIT ?= ../shared/kit
KIT_DIR := $(CURDIR)/target/kit
export TINYSTORE_KIT ?= $(abspath $(KIT))
export TINYSTORE_NODE_MODULES ?= $(KIT_DIR)/node_modules

.PHONY: run test setup kit fmt-check clippy rust-test bench docs clean

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

test: fmt-check clippy kit rust-test
	@echo "make test: all gates passed"

# Criterion benchmarks of workloads W1-W3 (../shared/perf/WORKLOADS.md); see docs/benchmarks.md.
bench: setup
	$(CARGO) bench -p tinystore-core --bench store

clean:
	$(CARGO) clean

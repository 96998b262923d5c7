# tinystore — the two entry points a newcomer needs:
#   make run    build (release) and run the main job
#   make test   every gate and every test of every language that exists
# Both install what they need (rustfmt/clippy components) themselves.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test setup fmt-check clippy rust-test bench docs clean

run: setup
	$(CARGO) run --release -p tinystore-cli -- demo

setup:
	@command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

fmt-check: setup
	$(CARGO) fmt --all --check

clippy: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-test: setup
	$(CARGO) test --workspace

test: fmt-check clippy rust-test
	@echo "make test: all gates passed"

# Criterion benchmarks of workloads W1-W3 (../shared/perf/WORKLOADS.md); see docs/benchmarks.md.
bench: setup
	$(CARGO) bench -p tinystore-core --bench store

clean:
	$(CARGO) clean

# Brink's two entry points:
#   make dev   build Brink and serve examples/hello on http://127.0.0.1:8787
#   make test  build everything and run every test (what CI runs)
# Both install the system packages they need first (idempotently).

CARGO ?= cargo
PORT ?= 8787
EXAMPLE ?= hello

.PHONY: dev test deps build check-v8 bench

deps:
	bash scripts/install-deps.sh
	bash scripts/vendor-patched-crates.sh

build: deps
	$(CARGO) build --release -p brink-gateway

dev: build
	./target/release/brink dev examples/$(EXAMPLE)/worker.js --port $(PORT) --kv COUNTS --data-dir .brink

test: deps
	$(CARGO) build --release --workspace --all-targets
	$(CARGO) test --release --workspace --no-fail-fast
	bash js-sdk/test.sh
	bash tests/conformance/test.sh
	bash deploy/check.sh
	$(MAKE) check-v8

# The real-V8 engine cannot be downloaded here; type-check it against a
# placeholder static library so that code path never rots.
check-v8: deps
	mkdir -p target
	printf '!<arch>\n' > target/rusty_v8_placeholder.a
	RUSTY_V8_ARCHIVE=$(CURDIR)/target/rusty_v8_placeholder.a \
		$(CARGO) check --release --no-default-features --features v8 -p brink-runtime -p brink-gateway

bench: build
	bash scripts/install-deps.sh --bench
	bash bench/run.sh

# Vigil: the two commands are `make run` and `make test`. Both install what is missing
# (Debian's mosquitto and socat, the npm packages), build the Rust addon and the
# TypeScript, and then run.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# The Node.js runtime every make target uses: the pinned Node 24 LTS of agent/packaging/node-runtime.json
# (the one the Debian package ships), fetched from the npm registry into build/runtime/ when missing,
# whatever Node the machine has: what is tested is what is shipped (README, "Supported runtime").
NODE_RUNTIME_VERSION := $(shell sed -n 's/^  "version": "\(.*\)",$$/\1/p' agent/packaging/node-runtime.json)
HOST_NODE_ARCH := $(shell uname -m | sed -e 's/^x86_64$$/x64/' -e 's/^aarch64$$/arm64/')
NODE_RUNTIME_DIR := $(CURDIR)/build/runtime/node-$(NODE_RUNTIME_VERSION)-linux-$(HOST_NODE_ARCH)
export PATH := $(NODE_RUNTIME_DIR)/bin:$(HOME)/.cargo/bin:$(PATH)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# command:package pairs installed from Debian when the command is missing. Chromium: the browser the
# ward board's tests drive headless with puppeteer-core (test/system/station-web.test.ts); no browser
# is ever downloaded.
DEBIAN_PACKAGES := mosquitto:mosquitto mosquitto_pub:mosquitto-clients socat:socat openssl:openssl \
	systemd-analyze:systemd python3:python3 strace:strace chromium:chromium
NAPI_FLAGS := --platform --no-js --release \
	--manifest-path native/binding/Cargo.toml \
	--package-json-path native/binding/package.json
# The release addon, the one the agent loads: built without any cargo feature, so without test hooks.
NAPI_BUILD := npx napi build $(NAPI_FLAGS) --output-dir native/binding
# The test build of the addon: the same crate with the `test-hooks` feature (panic_for_test),
# in its own folder, loaded only by test code (test/support/native-test-hooks.ts). It shares the
# cargo target directory: only the binding crate compiles a second time (about 8 s on 2 cores).
NATIVE_TEST_DIR := native/binding/test-build
NAPI_TEST_BUILD := npx napi build $(NAPI_FLAGS) --features test-hooks --output-dir $(NATIVE_TEST_DIR)
# What the addon is built from: the test build is redone only when one of these changed. (The
# release build always asks cargo: the two builds share the binding's output file in the target
# directory, so cargo relinks the release addon after a test build, and the installed addon never
# is the test build; test/unit/native-hooks.test.ts checks its bytes.)
NATIVE_SOURCES := $(shell find native/core native/sys native/binding/src -name '*.rs' 2>/dev/null) \
	native/Cargo.toml native/Cargo.lock native/core/Cargo.toml native/sys/Cargo.toml \
	native/binding/Cargo.toml native/binding/build.rs native/binding/package.json

.PHONY: all runtime deps package package-test deps-package deps-system deps-rust deps-evidence deps-coverage build native native-test ts test test-ts test-rust bench evidence run clean help

all: build

help:
	@echo "make run    build everything, start broker + hw-sim + three beds + station view + ward board (prints its URL and a demo login; Ctrl-C stops)"
	@echo "make test   build everything (and the addon's test build) and run every test (tap + cargo test)"
	@echo "make build  install what is missing and build the addon and the TypeScript"
	@echo "make evidence  traceability, SBOM, SOUP list, verification records (docs/evidence/)"
	@echo "make bench  benchmarks (about 29 min): prints the table and writes docs/benchmarks.md"

## ---- installing what is missing -----------------------------------------------------
deps: runtime deps-system deps-rust node_modules/.vigil-installed

# The pinned Node runtime for this machine's architecture (checked against its pinned sha512).
runtime: $(NODE_RUNTIME_DIR)/.vigil-runtime

$(NODE_RUNTIME_DIR)/.vigil-runtime: agent/packaging/node-runtime.json agent/packaging/fetch-node.sh
	agent/packaging/fetch-node.sh $(HOST_NODE_ARCH) $(NODE_RUNTIME_DIR)
	@node --version | grep -qx "v$(NODE_RUNTIME_VERSION)" || { echo "make: node on PATH is $$(node --version), not the pinned v$(NODE_RUNTIME_VERSION)"; exit 1; }

deps-system:
	@missing=""; \
	for pair in $(DEBIAN_PACKAGES); do \
	  cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps-rust:
	@command -v cargo >/dev/null 2>&1 || { \
	  echo "make: cargo (Rust >= 1.88) is required to build native/: install it with rustup (https://rustup.rs)"; exit 1; }

node_modules/.vigil-installed: package.json package-lock.json | runtime
	@# The committed lock records every optional platform package (@napi-rs/*), so npm ci installs
	@# exactly it and never rewrites it: a build is reproducible from the lock.
	npm ci --no-audit --no-fund
	@touch $@

## ---- building -----------------------------------------------------------------------
build: deps native ts

native: deps-rust node_modules/.vigil-installed
	$(NAPI_BUILD)

# The addon with its test hooks, for the tests only (never installed, never loaded by the agent).
native-test: $(NATIVE_TEST_DIR)/.built

# After the release build (order only): the two must not run at once, they share the target directory.
$(NATIVE_TEST_DIR)/.built: $(NATIVE_SOURCES) node_modules/.vigil-installed | deps-rust native
	$(NAPI_TEST_BUILD)
	@touch $@

# dist/ is rebuilt from scratch so that no compiled file outlives its source.
# The package's two commands, `npx vigil` and `npx hw-sim`, run from the project root: npm does not
# link a project's own bins, so they are linked here (executable, as npm would make them).
ts: node_modules/.vigil-installed
	rm -rf dist
	npx tsc -p tsconfig.json
	chmod +x dist/agent/src/cli.js dist/hw-sim/src/cli.js
	mkdir -p node_modules/.bin
	ln -sfn ../../dist/agent/src/cli.js node_modules/.bin/vigil
	ln -sfn ../../dist/hw-sim/src/cli.js node_modules/.bin/hw-sim

## ---- testing ------------------------------------------------------------------------
# Both runners always run; the last line is the plain `N passed, N failed` summary, after the
# coverage lines (agent/src and native/core, lines and branches).
# For `make evidence`, the same run also leaves machine-readable results in build/test/:
# tap's JSON reporter (replayed from this run's saved TAP), cargo's result lines, the
# run's record (date, commit, environment: run.json) and the coverage (coverage/: LCOV per
# area, summary.json).
#
# Coverage is measured, never enforced (tap's allow-incomplete-coverage): tap records V8
# coverage of dist/agent/src (test/support/coverage/map.ts) in every test process and in the
# agent processes they start; its own threshold comments (`# ERROR: incomplete lines coverage`,
# over the files loaded only) are left out of the log, and coverage/report.js turns the raw
# data into the figures of every file of agent/src. The Rust core's tests run a second time
# under cargo llvm-cov (cargo test's results above stay the ones counted).
TAP_COVERAGE := --no-disable-coverage --coverage-map=dist/test/support/coverage/map.js --coverage-report=none
TAP_THRESHOLD_COMMENT := ^\# ERROR: incomplete [a-z]* coverage (
test: build native-test deps-coverage package
	@rm -rf build/single-fault build/test/coverage .tap/coverage; mkdir -p build/test/coverage; rm -f build/test/run.json build/test/tap-results.json
	@node dist/test/support/evidence/records.js start --out build/test/run.json || true; \
	tap_files=$$(find dist/test -name '*.test.js' | sort); \
	npx tap --reporter=tap $(TAP_COVERAGE) $$tap_files 2>&1 | { grep --line-buffered -v '$(TAP_THRESHOLD_COMMENT)' || true; } | tee build/test/tap.txt || true; \
	mv .tap/coverage build/test/coverage/v8 2>/dev/null || true; \
	npx tap replay --reporter=json --reporter-file=build/test/tap-results.json $$tap_files >/dev/null 2>&1 || true; \
	(cd native && cargo test --workspace --no-fail-fast 2>&1) | tee build/test/cargo.txt || true; \
	rust_tc=$(RUST_COVERAGE_TOOLCHAIN); branch=--branch; \
	rustup run $$rust_tc rustc --version >/dev/null 2>&1 || { rust_tc=stable; branch=; }; \
	(cd native && cargo +$$rust_tc llvm-cov --package vigil-core $$branch --ignore-run-fail \
	  --lcov --output-path ../build/test/coverage/rust.lcov) >build/test/coverage/rust-run.txt 2>&1 || \
	  echo "make: the Rust coverage run failed (build/test/coverage/rust-run.txt)"; \
	node dist/test/support/single-fault.js; \
	node dist/test/support/evidence/records.js finish --out build/test/run.json || true; \
	node dist/test/support/coverage/report.js --out build/test/coverage \
	  --rust-toolchain "$$(rustc +$$rust_tc --version 2>/dev/null || echo "$$rust_tc: not installed")" || true; \
	node dist/test/support/summarize.js --tap build/test/tap.txt --cargo build/test/cargo.txt

test-ts: build native-test
	npx tap $$(find dist/test -name '*.test.js' | sort)

test-rust: deps-rust
	cd native && cargo test --workspace

## ---- Debian packages (README, "Installing on a gateway") --------------------------------
# vigil_<version>_amd64.deb and vigil_<version>_arm64.deb in build/package/, built on an amd64
# machine: each has the agent's JavaScript, its production npm packages, the addon and the pinned
# Node runtime of its architecture (test/support/package/build-deb.ts says what goes where). The
# arm64 addon is cross-built with Debian's cross gcc as linker. Reproducible: the timestamps are
# SOURCE_DATE_EPOCH, the commit's time unless set.
ARM64_TARGET := aarch64-unknown-linux-gnu
ARM64_ADDON_DIR := build/package/addon-arm64
NODE_RUNTIME_ARM64_DIR := $(CURDIR)/build/runtime/node-$(NODE_RUNTIME_VERSION)-linux-arm64
PACKAGE_DEBIAN := dpkg-deb:dpkg aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu qemu-aarch64-static:qemu-user-static \
	debootstrap:debootstrap
PACKAGE_DEBIAN_LIBS := /usr/aarch64-linux-gnu/lib/libc.so.6:libc6-dev-arm64-cross \
	/usr/aarch64-linux-gnu/lib/libstdc++.so.6:libstdc++6-arm64-cross

package: build deps-package deps-evidence
	agent/packaging/fetch-node.sh arm64 $(NODE_RUNTIME_ARM64_DIR)
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
	  npx napi build $(NAPI_FLAGS) --target $(ARM64_TARGET) --output-dir $(ARM64_ADDON_DIR)
	node dist/test/support/package/build-deb.js --arch amd64
	node dist/test/support/package/build-deb.js --arch arm64

# Each package's payload installed into a scratch root and its agent run from there (arm64 under
# qemu-aarch64-static with the packaged arm64 Node) against hw-sim and a real Mosquitto; the
# second build of each package must give the same bytes. `make test` runs these tests too.
package-test: package native-test
	npx tap --disable-coverage $$(find dist/test/package -name '*.test.js' | sort)

deps-package:
	@missing=""; \
	for pair in $(PACKAGE_DEBIAN); do cmd=$${pair%%:*}; command -v $$cmd >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	for pair in $(PACKAGE_DEBIAN_LIBS); do [ -e $${pair%%:*} ] || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@rustup target list --installed | grep -qx $(ARM64_TARGET) || rustup target add $(ARM64_TARGET)

## ---- benchmarks (never in tests) -----------------------------------------------------
# The whole suite (native speed, start-up, one full bed, headroom, a ward on one broker, device alarm
# onset) in about 29 minutes (the soak under 100 broker and 100 agent kills is about 10 of them); prints the table and writes
# docs/benchmarks.md. Each part reruns alone: see that file.
bench: build package
	node dist/test/support/bench/run-all.js

## ---- regulatory evidence (docs/evidence/README.md) ----------------------------------------
# Traceability matrix, SBOM, SOUP list and verification records into docs/evidence/, and
# docs/requirements.md, docs/interfaces/README.md, from the data files and the results of the
# last `make test` (run first when there are none). Fails when the evidence has a gap.
CARGO_CYCLONEDX_VERSION := 0.5.9

evidence: node_modules/.vigil-installed deps-evidence
	@[ -f build/test/run.json ] || $(MAKE) --no-print-directory test || true
	@# The ward board as the last `make test` drew it in Chromium (test/system/station-web.test.ts).
	@if [ -f build/test-artifacts/station-board.png ]; then cp build/test-artifacts/station-board.png docs/station.png; \
	  else echo "make: no screenshot of the ward board in build/test-artifacts/: docs/station.png not refreshed"; fi
	@$(MAKE) -s --no-print-directory dist/test/support/evidence/cli.js
	node dist/test/support/evidence/cli.js

dist/test/support/evidence/cli.js: $(wildcard test/support/evidence/*.ts test/support/summarize.ts)
	$(MAKE) --no-print-directory ts

# Coverage tools for `make test`: cargo-llvm-cov and the llvm-tools of the toolchain it uses.
# Rust branch coverage (`cargo llvm-cov --branch`) is unstable: it needs a nightly toolchain,
# installed here when missing (minimal profile). Without one, the core's lines are measured on
# stable and its branches are reported as not measured. A tool that cannot be installed leaves
# its coverage unmeasured (a gap in `make evidence`), never the tests unrun.
CARGO_LLVM_COV_VERSION := 0.9.1
RUST_COVERAGE_TOOLCHAIN := nightly

deps-coverage: deps-rust
	@command -v cargo-llvm-cov >/dev/null 2>&1 || { \
	  echo "make: installing cargo-llvm-cov $(CARGO_LLVM_COV_VERSION) from crates.io (about 3 minutes, once)"; \
	  cargo install cargo-llvm-cov --locked --version $(CARGO_LLVM_COV_VERSION) || true; }
	@rustup run $(RUST_COVERAGE_TOOLCHAIN) rustc --version >/dev/null 2>&1 || { \
	  echo "make: installing the $(RUST_COVERAGE_TOOLCHAIN) Rust toolchain, for branch coverage (once)"; \
	  rustup toolchain install $(RUST_COVERAGE_TOOLCHAIN) --profile minimal --component llvm-tools-preview || true; }
	@for tc in $(RUST_COVERAGE_TOOLCHAIN) stable; do \
	  rustup run $$tc rustc --version >/dev/null 2>&1 || continue; \
	  rustup component list --installed --toolchain $$tc | grep -q '^llvm-tools' || \
	    rustup component add llvm-tools-preview --toolchain $$tc || true; \
	done

deps-evidence: deps-rust
	@command -v cargo-cyclonedx >/dev/null 2>&1 || { \
	  echo "make: installing cargo-cyclonedx $(CARGO_CYCLONEDX_VERSION) from crates.io (a few minutes, once)"; \
	  cargo install cargo-cyclonedx --locked --version $(CARGO_CYCLONEDX_VERSION); }

## ---- running ------------------------------------------------------------------------
run: build
	node dist/test/support/run-local.js

clean:
	rm -rf dist build native/target native/binding/*.node $(NATIVE_TEST_DIR)

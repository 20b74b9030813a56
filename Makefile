# The two commands of a fresh Debian machine with Swift:
#   make demo   builds trace-bridge and replays a shipped capture into a readable trace (no broker, no collector)
#   make test   installs what the tests need and runs every test
# .ci/run runs `make test`, then `make fuzz` (each fuzzer for 60 s).
#
# make test also installs rabbitmq-server (Debian) and runs a private node on 127.0.0.1:5682 (tools/broker.sh) for
# the live tests, with a second venv holding real oslo.messaging for the scenario driver; it stops the node after.
# The cluster test (LiveBrokerTests.Cluster) starts and stops a three-node cluster on 5692-5694 itself
# (tools/broker.sh cluster-start, about 17 s); `cluster-stop` after the suite only cleans up after a crashed run.

SWIFT ?= swift
PYTHON ?= python3
VENV ?= .venv
SCENARIO_VENV ?= .venv-scenario
# apt-get needs root; use sudo when not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test fuzz sanitize build deps clean

## System packages the build links, found with pkg-config: rabbitmq-c (CRabbitMQ), zlib (CZlib: gzip OTLP bodies and
## zlib message bodies), and the decoders of kombu's other codecs (CBzip2, CLZMA, CZstd, CBrotli). Debian's libbz2-dev
## has no pkg-config file: its header is checked instead.
DEV_PACKAGES = librabbitmq-dev zlib1g-dev libbz2-dev liblzma-dev libzstd-dev libbrotli-dev pkg-config
deps:
	@if ! pkg-config --exists librabbitmq zlib liblzma libzstd libbrotlidec 2>/dev/null || [ ! -f /usr/include/bzlib.h ]; then \
		echo "make: installing $(DEV_PACKAGES)"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEV_PACKAGES) \
		|| { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEV_PACKAGES); }; \
	fi

build: deps
	$(SWIFT) build

demo: build
	$(SWIFT) run --skip-build trace-bridge replay fixtures/a_boot.jsonl

## The independent OTLP receiver: the official opentelemetry-proto Python bindings, in a venv of our own.
$(VENV)/.installed: tools/requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-test.txt
	touch $@

## Real oslo.messaging (PyPI) for tools/scenario/driver.py.
$(SCENARIO_VENV)/.installed: tools/scenario/requirements.txt
	$(PYTHON) -m venv $(SCENARIO_VENV)
	$(SCENARIO_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/scenario/requirements.txt
	touch $@

test: deps $(VENV)/.installed $(SCENARIO_VENV)/.installed
	tools/broker.sh install
	$(SWIFT) build --build-tests
	tools/broker.sh start
	status=0; \
	TRACE_BRIDGE_PYTHON=$(abspath $(VENV))/bin/python \
	TRACE_BRIDGE_SCENARIO_PYTHON=$(abspath $(SCENARIO_VENV))/bin/python \
	TB_BROKER_DIR=$(abspath .broker) \
	$(SWIFT) test --skip-build || status=$$?; \
	tools/broker.sh stop; \
	tools/broker.sh cluster-stop; \
	exit $$status

## The whole test suite under ThreadSanitizer, then AddressSanitizer: the tests and every agent they start are
## instrumented, and a report stops the process (halt_on_error), failing its test. Own build directories.
## SANITIZE_SKIP leaves out three tests whose length is waiting or repetition, not code the others do not run:
## the reorder window's 1,224-replay measurement (its code is the default-window tests'), the cluster failover
## (reconnection is the broker-restart test's) and the 60 s collector outage (retries are the export tests').
## They run in `make test`; under a sanitizer they were the longest of a run that took 25 min per sanitizer.
## SANITIZERS picks the sanitizers (CI: thread only; see .ci/run).
SANITIZERS ?= thread address
SANITIZE_SKIP ?= ReorderWindowTests/defaultIsMeasured|LiveBrokerTests/Cluster/clusterFailover|LiveBrokerTests/Export/outage
sanitize: deps $(VENV)/.installed $(SCENARIO_VENV)/.installed
	tools/broker.sh install
	tools/broker.sh start
	status=0; \
	for sanitizer in $(SANITIZERS); do \
		$(SWIFT) build --build-tests --sanitize=$$sanitizer --build-path .build-$$sanitizer || { status=1; break; }; \
		TSAN_OPTIONS=halt_on_error=1 ASAN_OPTIONS=halt_on_error=1:detect_leaks=0 TRACE_BRIDGE_SANITIZER=$$sanitizer \
		TRACE_BRIDGE_PYTHON=$(abspath $(VENV))/bin/python \
		TRACE_BRIDGE_SCENARIO_PYTHON=$(abspath $(SCENARIO_VENV))/bin/python \
		TB_BROKER_DIR=$(abspath .broker) \
		$(SWIFT) test --skip-build --sanitize=$$sanitizer --build-path .build-$$sanitizer \
			--skip '$(SANITIZE_SKIP)' || status=1; \
	done; \
	tools/broker.sh stop; \
	tools/broker.sh cluster-stop; \
	exit $$status

## libFuzzer on the five decoders, FUZZ_SECONDS each (CI: 60); crashes land in Fuzz/regressions (tools/fuzz.sh).
FUZZ_SECONDS ?= 60
fuzz: deps
	tools/fuzz.sh $(FUZZ_SECONDS)

clean:
	-tools/broker.sh stop
	-tools/broker.sh cluster-stop
	rm -rf .build $(VENV) $(SCENARIO_VENV) .broker

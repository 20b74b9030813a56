# The two commands of a fresh Debian machine with Swift:
#   make demo   builds trace-bridge and replays a shipped capture into a readable trace (no broker, no collector)
#   make test   installs what the tests need and runs every test
# .ci/run runs `make test`.

SWIFT ?= swift
PYTHON ?= python3
VENV ?= .venv
# apt-get needs root; use sudo when not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test build deps clean

## System packages the build links (rabbitmq-c for the CRabbitMQ target) and finds with pkg-config.
deps:
	@if ! pkg-config --exists librabbitmq 2>/dev/null; then \
		echo "make: installing librabbitmq-dev (rabbitmq-c) and pkg-config"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librabbitmq-dev pkg-config \
		|| { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librabbitmq-dev pkg-config; }; \
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

test: deps $(VENV)/.installed
	$(SWIFT) build --build-tests
	TRACE_BRIDGE_PYTHON=$(abspath $(VENV))/bin/python $(SWIFT) test --skip-build

clean:
	rm -rf .build $(VENV)

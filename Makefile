# asgi-operator. Every target creates what it needs (virtualenv, packages, lab binaries) when missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/operator:$(CURDIR)/tests
# The lab builds with the machine's Go; never download another toolchain behind the user's back.
export GOTOOLCHAIN ?= local

.PHONY: bench bench-plugin soak e2e-kind image example-image help venv lab-bin lab-bin-demo test test-unit test-integration lint typecheck crds check-generated \
        lab-up lab-down demo ci clean

help:
	@echo "make test        everything: venv, packages, lab binaries, then the whole test suite"
	@echo "make demo        start the lab, run the operator, apply the example app, show it working"
	@echo "make lint        ruff (lint + format check), the import-layer contracts, dead code (vulture), module sizes"
	@echo "make typecheck   mypy --strict on operator/"
	@echo "make crds        regenerate crds/ (and every other generated file) from the models"
	@echo "make check-generated  fail if a generated file is stale"
	@echo "make lab-up / lab-down  a real control plane on 127.0.0.1 (KUBECONFIG=.lab/admin.kubeconfig)"
	@echo "make bench       API writes, time to Ready and the operator's memory, measured in the lab"
	@echo "make bench-plugin  the kubectl-asgi plugin benchmark (bench/plugin_bench.py)"
	@echo "make soak        fault drills, long form: 20 rollouts x 3 SIGKILLs, 5000 random specs dry-run (not in CI)"
	@echo "make e2e-kind    the integration suite on a kind cluster (needs Docker and kind)"
	@echo "make image       the operator image (podman, or CONTAINER_TOOL=docker); no registry needed; prints its size"
	@echo "make example-image  the example app's image (examples/app), with every ASGI server"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,example]'
	touch $@

venv: $(STAMP)

# The lab's binaries (tests/lab/build.sh): `all` for the tests; the demo and lab-up need fewer (no helm, promtool
# or luarun), so a first `make demo` builds only those.
lab-bin:
	@bash tests/lab/build.sh all >/dev/null

lab-bin-demo:
	@bash tests/lab/build.sh demo >/dev/null

test:
	@$(MAKE) --no-print-directory -j2 venv lab-bin
	$(PY) -m pytest tests

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP) lab-bin
	$(PY) -m pytest tests/integration

lint: $(STAMP)
	$(PY) -m ruff check operator tests bench .ci
	$(PY) -m ruff format --check operator tests bench .ci
	$(VENV)/bin/lint-imports
	$(VENV)/bin/vulture
	$(PY) .ci/sizes.py

typecheck: $(STAMP)
	$(PY) -m mypy

crds: $(STAMP)
	$(PY) -m asgi_operator.generate write

check-generated: $(STAMP)
	$(PY) -m asgi_operator.generate check

lab-up: $(STAMP) lab-bin-demo
	$(PY) -m lab up

lab-down: $(STAMP)
	$(PY) -m lab down

# The virtualenv (mostly downloads) and the lab's binaries (mostly compiling) are made side by side.
demo:
	@$(MAKE) --no-print-directory -j2 venv lab-bin-demo
	$(PY) -m lab.demo

bench: $(STAMP) lab-bin
	$(PY) bench/operator_bench.py

# the kubectl-asgi plugin benchmark (bench/plugin_bench.py)
bench-plugin: $(STAMP)
	$(PY) bench/plugin_bench.py

# The long form of tests/integration/test_soak.py (CI runs 2 rollouts x 2 kills and 100 specs); ~30 minutes.
soak: $(STAMP) lab-bin
	ASGI_SOAK_ROLLOUTS=20 ASGI_SOAK_KILLS=3 ASGI_SOAK_EXAMPLES=5000 $(PY) -m pytest tests/integration/test_soak.py \
	  -s --timeout=7200

ci: lint typecheck check-generated test

clean: lab-down
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The integration suite on a kind cluster, where Docker exists (not on the machines this is built on).
KIND_CLUSTER ?= asgi-operator-e2e
e2e-kind: $(STAMP)
	@command -v docker >/dev/null 2>&1 || { echo "make e2e-kind needs Docker (and builds kind from the Go module proxy)"; exit 1; }
	@command -v kind >/dev/null 2>&1 || GOBIN=$(CURDIR)/.lab/bin go install sigs.k8s.io/kind@v0.33.0
	@mkdir -p .lab
	PATH=$(CURDIR)/.lab/bin:$$PATH; \
	  kind get clusters | grep -qx $(KIND_CLUSTER) || kind create cluster --name $(KIND_CLUSTER) --wait 180s; \
	  kind get kubeconfig --name $(KIND_CLUSTER) > .lab/kind.kubeconfig
	ASGI_TEST_KUBECONFIG=$(CURDIR)/.lab/kind.kubeconfig $(PY) -m pytest tests/integration

# The images: a base from Debian packages (mmdebstrap; or BASE_IMAGE=...), a wheelhouse made here, a build with
# no network; all cached, so an unchanged tree rebuilds nothing. IMAGE / EXAMPLE_IMAGE set the tags.
CONTAINER_TOOL ?= $(if $(shell command -v podman 2>/dev/null),podman,docker)
image: $(STAMP)
	CONTAINER_TOOL=$(CONTAINER_TOOL) PYTHON=$(CURDIR)/$(PY) bash .ci/image.sh operator

example-image: $(STAMP)
	CONTAINER_TOOL=$(CONTAINER_TOOL) PYTHON=$(CURDIR)/$(PY) bash .ci/image.sh example

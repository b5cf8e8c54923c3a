# Two commands for a new machine: `make plan` (offline plan of dev) and `make test`.
# Both create .venv from scratch when it is missing or the requirements changed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STACK  ?= dev
STACKS := $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))

.PHONY: plan plans test test-fast lint format typecheck unit bench clean system-deps policy-test checkov test-tools

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

plan: $(STAMP)  ## offline plan of one stack (STACK=dev): build/plan/STACK/{plan.json,manifests/,report.md}
	$(PY) -m tools.plan $(STACK)

plans: $(STAMP)  ## offline plans of every stack file
	@for s in $(STACKS); do $(PY) -m tools.plan $$s || exit $$?; done

prices: $(STAMP)  ## refresh the price book's generated AWS prices from their public price files (docs/cost.md)
	$(PY) scripts/refresh_prices.py

# Debian tools the tests call: promtool (Prometheus rule checks and unit tests).
system-deps:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing promtool (Debian package prometheus)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

typecheck: $(STAMP)
	$(VENV)/bin/pyright

lint: $(STAMP)  ## ruff lint + format check (pyproject [tool.ruff]); `make format` rewrites
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

unit: $(STAMP) system-deps checkov test-tools
	$(PY) -m pytest

# The tools the tests run (docs/testing.md): helm renders the charts, istioctl injects the sidecars, etcd +
# kube-apiserver + kubectl admit everything. Built from their pinned Go modules by scripts/build-tools.sh,
# which skips a tool that already reports its pin (a warm check takes well under a second) and rebuilds one
# that is missing or outdated (cold: ~20 min for these five on 2 cores; docs/tools.md). Not pulumi or the
# Kubernetes provider: no test runs them. Without Go, present binaries are used as they are.
TEST_TOOLS := etcd kube-apiserver kubectl helm istioctl
test-tools:  ## build the tools the tests need into .tools/bin when missing or outdated
	@if command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || [ -n "$$GO" ]; then \
	  bash scripts/build-tools.sh $(TEST_TOOLS); \
	else \
	  missing=""; for t in $(TEST_TOOLS); do [ -x .tools/bin/$$t ] || missing="$$missing $$t"; done; \
	  if [ -n "$$missing" ]; then echo "test-tools: missing$$missing and no Go toolchain to build them (docs/tools.md)" >&2; exit 1; fi; \
	  echo "test-tools: no Go toolchain; using the binaries in .tools/bin as they are"; \
	fi
	@bash scripts/fetch-karpenter.sh  # Karpenter charts + CRDs, EFA device plugin chart, from their Go modules (docs/karpenter.md)

# checkov in its own venv (98 packages; kept out of the project venv). tests/validators/test_checkov.py
# runs it offline (--skip-download) over the rendered manifests; the skip list is .checkov.yaml.
CHECKOV_VENV    := .venv-checkov
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)  ## install checkov into .venv-checkov (pinned)

# Policy pack venv: pulumi-policy pins protobuf 5.x, the project venv has protobuf 6 (policy/requirements.txt).
POLICY_VENV  := .venv-policy
POLICY_STAMP := $(POLICY_VENV)/.installed
$(POLICY_STAMP): policy/requirements.txt requirements.txt
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(POLICY_VENV)/bin/python -m pip install --quiet -r policy/requirements.txt
	touch $(POLICY_STAMP)

policy-test: $(POLICY_STAMP)  ## type-check and test the policy pack in its own venv (real plans, in-process analyzer)
	$(POLICY_VENV)/bin/pyright -p policy
	$(POLICY_VENV)/bin/python -m pytest policy/tests

# pytest exits 5 when it collected no tests; make treats any non-zero exit as failure.
test: lint typecheck unit policy-test  ## lint, type-check (pyright, zero errors) and run every test

# The fast tier while editing: pure-Python unit tests and component tests under the mock monitor
# (no offline plans of whole stacks, no external tools).
test-fast: $(STAMP)
	$(PY) -m pytest tests/unit tests/component tests/architecture -m "not tools"

bench: $(STAMP)  ## benchmarks: print measured ratios next to their targets (not pass/fail; bench_plan: ~10 min CPU, docs/performance.md)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit $$?; done

clean:
	rm -rf build .pytest_cache

# Third-party tools built from their pinned Go modules into .tools/bin (docs/tools.md); `test` builds only
# the ones the tests run (test-tools above).
# Phony: the repo has a tools/ directory, which make would otherwise take as the up-to-date target.
# pulumi-language-python is not built: the module proxy refuses its module (docs/tools.md).
.PHONY: tools
tools:  ## build helm, kube-apiserver, kubectl, etcd, istioctl, pulumi, language host, k8s provider into .tools/bin
	bash scripts/build-tools.sh
	bash scripts/fetch-karpenter.sh

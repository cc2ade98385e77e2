# The two commands of the README. Each does all set-up on a fresh Debian/Ubuntu machine:
#   make demo   provision QEMU + cross toolchains, create .venv, install, run the demo suite
#   make test   the same set-up, then ruff, mypy, the test suite (pytest -n 2, newest pytest)
#               and its representative tests under the oldest supported pytest (nox)
# Set-up is idempotent: provisioning checks installed packages (well under a second when
# nothing is missing); the virtualenv is rebuilt only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := build/stamps
DEMO_TARGETS ?= aarch64,armv7,riscv64,x86_64
PYTEST_ARGS ?=
# e.g. PROVISION_ARGS="--multiarch arm64" (what CI does: it changes dpkg's configuration)
PROVISION_ARGS ?=

.PHONY: demo test compat docs setup provision lint typecheck unit clean-venv bench help

help:
	@echo "make demo    set up everything, then run the demo suite for $(DEMO_TARGETS)"
	@echo "make test    set up everything, then ruff, mypy and the whole test suite (newest"
	@echo "             pytest), then the representative tests under the oldest (make compat)"
	@echo "make docs    the documentation site (mkdocs, strict) in build/site"
	@echo "make bench   the run-overhead benchmark (see docs/performance.md)"

demo: setup
	$(BIN)/pytest examples/demo -v --xarch=$(DEMO_TARGETS)

test: setup lint typecheck
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)
	$(BIN)/nox --non-interactive -s compat

# The plugin's representative tests under the oldest supported pytest (noxfile.py).
compat: setup
	$(BIN)/nox --non-interactive -s compat

setup: $(STAMPS)/venv

# Always run: it checks in well under a second and installs only what is missing.
provision:
	sh qemu/bootstrap.sh $(PROVISION_ARGS)

# Order-only on provision: python3-venv must exist first, but provisioning alone
# does not rebuild the virtualenv.
$(STAMPS)/venv: pyproject.toml | provision
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	mkdir -p $(STAMPS) && touch $@

lint: $(STAMPS)/venv
	$(BIN)/ruff check src tests benchmarks qemu tools noxfile.py

typecheck: $(STAMPS)/venv
	$(BIN)/mypy

# The documentation site, in build/site (the test suite builds it too, strictly).
docs: setup
	$(BIN)/mkdocs build --strict

bench: setup
	$(BIN)/python benchmarks/bench_run.py

clean-venv:
	rm -rf $(VENV) $(STAMPS)

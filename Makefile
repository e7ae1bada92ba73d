# The two commands: `make test` and `make run`. Both set up what they need on a fresh
# Debian 12 machine (apt packages, .venv, model files) through scripts/bootstrap.sh.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.bootstrapped

.PHONY: setup test run bench clean lint test-appliance test-arm64 test-image

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) bash scripts/bootstrap.sh

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff (the rules in pyproject.toml) and mypy on kiosk/; `make test` runs them too (tests/test_lint.py)
lint: setup
	$(PY) -m ruff check kiosk simulators tests bench
	$(PY) -m mypy

test-appliance: setup
	$(PY) -m pytest tests/appliance -v -s $(PYTEST_ARGS)

# The device-free unit tests on aarch64, in an arm64 Debian 12 root under qemu-user (root needed;
# not part of `make test`: tens of minutes under emulation). Caches in /var/tmp/kiosk-arm64.
test-arm64: setup
	bash image/test-arm64.sh $(PYTEST_ARGS)

# The arm64 image booted under qemu-system-aarch64 (TCG, no network): units, a frame, liveness on
# aarch64, a sealed submission, the read-only root, the encrypted data partition, an A/B update
# and its fallback (root needed; not part of `make test`: each emulated boot takes minutes).
test-image: setup
	bash image/test-image.sh

run: setup
	$(PY) -m simulators.launch -- $(PY) -m kiosk run --sim $(RUN_ARGS)

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) out .pytest_cache

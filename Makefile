# Two commands on a fresh machine: `make demo` and `make test`. Each bootstraps what it needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PIP_FLAGS := -q --disable-pip-version-check
# Debian packages: libzbar0 for pyzbar, mosquitto for the broker tests and the demo.
DEB_RUNTIME := libzbar0 mosquitto
DEB_TEST := $(DEB_RUNTIME)
PYTEST_ARGS ?=

.PHONY: demo test test-quick bench lint clean sysdeps-test sysdeps-runtime

$(PY):
	python3 -m venv $(VENV)
	$(PIP) $(PIP_FLAGS) install -U pip

# One stamp per set of extras; pyproject.toml changing re-installs.
$(VENV)/.stamp-runtime: pyproject.toml | $(PY)
	$(PIP) $(PIP_FLAGS) install -e '.[cloud]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(PY)
	$(PIP) $(PIP_FLAGS) install -e '.[cloud,dev]'
	touch $@ $(VENV)/.stamp-runtime

sysdeps-runtime:
	@scripts/bootstrap.sh $(DEB_RUNTIME)

sysdeps-test:
	@scripts/bootstrap.sh $(DEB_TEST)

demo: sysdeps-runtime $(VENV)/.stamp-runtime
	$(PY) -m simulators.demo

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
test: sysdeps-test $(VENV)/.stamp-dev
	@set +e; $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

# The fast inner loop: everything that needs no broker, database, browser or MicroPython.
test-quick: $(VENV)/.stamp-dev
	$(PY) -m pytest -m "not mqtt and not postgres and not browser and not micropython and not slow" $(PYTEST_ARGS)

bench: sysdeps-test $(VENV)/.stamp-dev
	$(PY) -m bench

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-state

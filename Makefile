# The two commands a newcomer needs are `make demo` and `make test`; both build the
# virtualenv on first use, so a fresh clone needs nothing but Python >= 3.11 and redis-server.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint typecheck pytest bench clean lock compose-test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# pytest exits 5 when it collected nothing; an empty run must not count as a pass.
# `make test` leaves out the tests marked slow (long soaks, crash and rate-limit exports:
# about 4 minutes) to stay near 13 minutes on 2 cores; `make test-slow` runs exactly
# those, and CI runs both.
PYTEST_MARKERS ?= not slow
pytest: $(STAMP)
	@$(PY) -m pytest -m "$(PYTEST_MARKERS)" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

test: lint typecheck pytest

test-slow: $(STAMP)
	$(MAKE) pytest PYTEST_MARKERS=slow

# The whole exporter against the sandbox: private Redis, token service, API, a worker; one
# export over HTTP; every process stopped at the end (also on Ctrl-C).
demo: $(STAMP)
	$(PY) -m demo $(DEMO_ARGS)

bench: $(STAMP)
	$(PY) -m bench

# The hash-pinned lock files the Dockerfile installs from (pip install --require-hashes);
# rerun after every change to pyproject.toml's dependencies (a test checks they agree).
# requirements.lock: the dependencies plus the build backend (setuptools);
# requirements-test.lock: the same pins plus the test extra. Any platform, Python 3.11.
UV_VERSION ?= 0.13.8
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --native-tls --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock"
lock: $(STAMP)
	test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet "uv==$(UV_VERSION)"
	$(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		| $(UV_COMPILE) pyproject.toml - -o requirements.lock
	$(UV_COMPILE) --extra test --constraints requirements.lock pyproject.toml -o requirements-test.lock

# The containers for real: offline base images, the exporter image, the demo profile up
# healthy, an export over the published API, three workers scraped by Prometheus, the
# re-authentication alert delivered by Alertmanager, the test profile without .env; then
# everything removed. Needs root (or a running Docker engine) and ~30 GB free disk; see
# docker/compose-test.sh.
compose-test:
	bash docker/compose-test.sh $(COMPOSE_TEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# The two commands of the README: `make demo` and `make test`. Both set up .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make demo` needs only the runtime dependencies (a few hundred MB, well under a
# minute on a fresh machine); `make test` adds the [dev] extra (pytest, mypy, Playwright, moto...)
# on top. Each stamp is remade when pyproject.toml changes. The runtime install skips compiling
# every module to bytecode (--no-compile: a third of pip's CPU time); Python compiles the modules
# the demo imports as it first imports them, and keeps them.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench clean

$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(DEV)

demo: $(RUNTIME)
	$(BIN)/redline demo

lint: $(DEV)
	$(BIN)/ruff check .

typecheck: $(DEV)
	$(BIN)/mypy

# Lint, types and tests at once: the suite mostly waits (on subprocesses, servers, the demo), so
# mypy's work fits beside it, and pytest-xdist runs it on more workers than this 2-core machine
# has cores (worksteal: a worker that runs dry takes tests queued on a busy one).
test: $(DEV)
	$(MAKE) --no-print-directory --output-sync=target -j3 lint typecheck pytest

pytest: $(DEV)
	$(BIN)/pytest -q -n 4 --dist worksteal

bench: $(DEV)
	$(BIN)/python -m bench

# Everything `make demo` and `make test` create: the venv, the demo's data and config
# (redline-demo/), build output, caches and bytecode.
clean:
	rm -rf $(VENV) redline-data redline-demo build redline.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

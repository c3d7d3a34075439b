# Two entry points for a fresh clone: `make demo` and `make test`. Both create .venv when needed,
# install torch 2.13.0 first (the CPU build) and pin it with constraints.txt so nothing pulls a
# newer torch, then install motionkit with exact pins of vector-quantize-pytorch and x-transformers.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.motionkit-installed
DEMO_DIR ?= runs/demo
export NO_MKDOCS_2_WARNING := 1

.PHONY: install demo test lint format docs serve-docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt plugins/motionkit-lfq/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,text,eval,slurm,tensorboard]" -e plugins/motionkit-lfq
	touch $(STAMP)

install: $(STAMP)

demo: install
	rm -rf $(DEMO_DIR)
	$(BIN)/motionkit list
	$(BIN)/motionkit check
	$(BIN)/motionkit data synth --out $(DEMO_DIR)/synthetic --num 1000 --seed 0
	$(BIN)/motionkit train --config demo --data $(DEMO_DIR)/synthetic --out $(DEMO_DIR)/run
	$(BIN)/motionkit eval-tokenizer $(DEMO_DIR)/run --data $(DEMO_DIR)/synthetic --split test
	$(BIN)/motionkit generate $(DEMO_DIR)/run "a person walks forward" \
		"someone jumps three times" "someone does three squats" \
		--out $(DEMO_DIR)/samples
	$(BIN)/motionkit render $(DEMO_DIR)/synthetic/new_joint_vecs/000000.npy \
		--out $(DEMO_DIR)/000000.gif
	$(BIN)/motionkit evaluator train --config demo-evaluator --data $(DEMO_DIR)/synthetic \
		--out $(DEMO_DIR)/evaluator
	$(BIN)/motionkit eval $(DEMO_DIR)/run --data $(DEMO_DIR)/synthetic \
		--evaluator $(DEMO_DIR)/evaluator --out $(DEMO_DIR)/eval.json
	@echo "demo done: runs in $(DEMO_DIR)/run (tokenizer/, generator/), generated motion in" \
		"$(DEMO_DIR)/samples (GIF, BVH, joints; index.json), the evaluation in" \
		"$(DEMO_DIR)/eval.json and eval.md. Next: $(BIN)/motionkit generate $(DEMO_DIR)/run" \
		"\"your caption\" --out my-samples; $(BIN)/motionkit bench; docs: make docs"

test: install lint
	$(BIN)/python -m pytest
	$(BIN)/mkdocs build --strict --quiet --site-dir site

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: install
	$(BIN)/mkdocs build --strict --site-dir site

serve-docs: install
	$(BIN)/mkdocs serve

clean:
	rm -rf site .pytest_cache .ruff_cache $(DEMO_DIR)

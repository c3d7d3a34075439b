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
	$(BIN)/motionkit train --config scamo-tiny --data $(DEMO_DIR)/synthetic --out $(DEMO_DIR)/run
	$(BIN)/motionkit eval-tokenizer $(DEMO_DIR)/run --data $(DEMO_DIR)/synthetic --split test
	$(BIN)/motionkit generate $(DEMO_DIR)/run "a person walks forward" \
		"someone jumps three times" "someone does three squats" \
		--out $(DEMO_DIR)/samples
	$(BIN)/motionkit plot $(DEMO_DIR)/run
	$(BIN)/motionkit evaluator train --config demo-evaluator --data $(DEMO_DIR)/synthetic \
		--out $(DEMO_DIR)/evaluator
	$(BIN)/motionkit eval $(DEMO_DIR)/run --data $(DEMO_DIR)/synthetic \
		--evaluator $(DEMO_DIR)/evaluator --out $(DEMO_DIR)/eval.json
	printf 'data = "synthetic"\nbudgets = [1e11]\nbatch_size = 32\ntokenizer_steps = 200\nevals = 8\n[[models]]\nname = "d32"\ndim = 32\nlayers = 2\nheads = 2\n[[models]]\nname = "d64"\ndim = 64\nlayers = 2\nheads = 4\n[[models]]\nname = "d96"\ndim = 96\nlayers = 3\nheads = 4\n[[vocabs]]\nlevels = [8, 6, 5]\n' > $(DEMO_DIR)/grid.toml
	$(BIN)/motionkit scaling sweep --grid $(DEMO_DIR)/grid.toml --out $(DEMO_DIR)/sweep
	$(BIN)/motionkit scaling fit $(DEMO_DIR)/sweep/runs/* --min-flops 1e10 --bootstrap 200 \
		--out $(DEMO_DIR)/scaling-fit.json
	@echo ""
	@echo "demo done. Where everything is:"
	@echo "  $(DEMO_DIR)/run                tokenizer/ and generator/ (scamo-tiny), curves.png"
	@echo "  $(DEMO_DIR)/samples            generated motion: GIF, BVH, joints, index.json"
	@echo "  $(DEMO_DIR)/eval.md            the evaluation table (R-precision, FID, MM-Dist, ...)"
	@echo "  $(DEMO_DIR)/scaling-fit.png    a scaling mini-fit on a 3-shape sweep ($(DEMO_DIR)/sweep)"
	@echo "Go further:"
	@echo "  $(BIN)/motionkit generate $(DEMO_DIR)/run \"your caption\" --out my-samples"
	@echo "  $(BIN)/motionkit data prepare-bvh YOUR_BVH_FOLDER --skeleton MAP --out my-data   (docs: Preparing your own mocap)"
	@echo "  $(BIN)/motionkit train --config scamo --data HumanML3D --text-encoder.path FLAN_T5_XL"
	@echo "  $(BIN)/motionkit bench --suite combinations      (every tokenizer x backbone)"
	@echo "  make docs                                          (the documentation site)"

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

# moprune: the README's commands. Everything installs into the active Python environment.
PYTHON ?= python3
RUN ?= runs

.PHONY: setup test lint train

setup:
	bash scripts/setup.sh

lint:
	$(PYTHON) -m ruff check moprune tests benchmarks experiments

test: setup lint
	$(PYTHON) -m pytest -q

# Train LeNet-5 on full Fashion-MNIST (dense baseline).
train: setup
	moprune train --model lenet5 --dataset fashion-mnist --epochs 10 --out $(RUN)/lenet5-dense

# moprune: the README's commands. Everything installs into the active Python environment.
PYTHON ?= python3
RUN ?= runs

.PHONY: setup test lint knee train pareto-experiment proxy-hpo-experiment sensitivity-experiment bench

setup:
	bash scripts/setup.sh

lint:
	$(PYTHON) -m ruff check moprune tests benchmarks experiments

test: setup lint
	$(PYTHON) -m pytest -q

# The main job: the Pareto front of LeNet-5 on Fashion-MNIST as one continuation path (10
# epochs, about 30 points, proximal l1 step), its knee in (validation error, kept share)
# debiased to 12 epochs in all, and the knee model (about 3 minutes on 2 CPU cores).
# Running it again resumes.
knee: setup
	moprune front --model lenet5 --dataset fashion-mnist --method path --budget 30 \
	  --epochs 10 --prox --knee-epochs 12 --out $(RUN)/lenet5-front
	moprune knee $(RUN)/lenet5-front --selector chord

# Train LeNet-5 densely on Fashion-MNIST.
train: setup
	moprune train --model lenet5 --dataset fashion-mnist --epochs 12 --out $(RUN)/lenet5-dense

# Everything in the Pareto part of the README's results (about 2 hours on 2 CPU cores).
pareto-experiment: setup
	bash experiments/pareto/run.sh $(RUN)

# Proxy HPO against full HPO on the small VGG and LeNet-5, three HPO methods, two proxies
# (about 3 hours; the LeNet-5 part needs pareto-experiment's front).
proxy-hpo-experiment: setup
	bash experiments/proxy_hpo/run.sh $(RUN)
	MODEL=lenet5 bash experiments/proxy_hpo/run.sh $(RUN)

# How pruning moves LeNet-5's best learning rate and weight decay (about 15 minutes).
sensitivity-experiment: setup
	bash experiments/sensitivity/run.sh $(RUN)

bench: setup
	$(PYTHON) benchmarks/bench_step.py

# keras_gradstab: the two commands of the README, and a few more.
#   make run    the main job: sets up .venv if needed, runs `python -m keras_gradstab`
#   make test   the full suite once per backend (jax, tensorflow, torch) + ruff
#   make bench  every benchmark at full size, one process per backend
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= jax,tensorflow,torch,dev
BACKENDS ?= jax tensorflow torch

.PHONY: run test bench lint venv clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m keras_gradstab

lint: $(STAMP)
	$(PY) -m ruff check .

# Each backend in its own pytest process (run side by side, logs printed in
# order); the target fails if ruff or any backend fails.
test: $(STAMP)
	@status=0; \
	$(PY) -m ruff check . || status=1; \
	bash tests/run_backends.sh $(PY) $(BACKENDS) || status=1; \
	exit $$status

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info

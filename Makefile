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

# Each backend in its own pytest process; every backend runs even if one fails,
# and the target fails if any did.
test: $(STAMP)
	@status=0; \
	$(PY) -m ruff check . || status=1; \
	for backend in $(BACKENDS); do \
	  echo "===== pytest, KERAS_BACKEND=$$backend ====="; \
	  KERAS_BACKEND=$$backend TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS) tests \
	    || status=1; \
	done; \
	if [ $$status -ne 0 ]; then echo "FAILED: see the output above"; fi; \
	exit $$status

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info

# keras_gradstab: the two commands of the README, and a few more.
#   make run    the main job: sets up .venv if needed, runs `python -m keras_gradstab`
#   make test   ruff, the full suite once per backend (jax, tensorflow, torch), and
#               the docs site built with `mkdocs build --strict`
#   make test-fast  ruff and the suite without the tests marked `slow` (training,
#               large compiles, subprocesses, the site), once per backend: for
#               development; CI runs `make test`
#   make bench  every benchmark at full size, one process per backend
#   make docs   the documentation site (site/), strict, checked in headless Chromium
#   make test-latest   the suite against the newest releases (.venv-latest, no pins)
#   make constraints   rewrites constraints.txt from .venv (after a green `make test`)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= jax,tensorflow,torch,tuner,data,docs,dev
BACKENDS ?= jax tensorflow torch
# The exact versions the suite last passed with; empty: the newest releases.
CONSTRAINTS ?= constraints.txt
PIN := $(if $(CONSTRAINTS),-c $(CONSTRAINTS),--upgrade --upgrade-strategy eager)

.PHONY: run test test-fast test-latest bench lint docs venv constraints clean

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(PIN) -e ".[$(EXTRAS)]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m keras_gradstab

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Each backend in its own pytest process (run side by side, logs printed in
# order), then the docs build; the target fails if ruff, any backend or the
# docs build fails.
test: $(STAMP)
	@status=0; \
	$(PY) -m ruff check . || status=1; \
	$(PY) -m ruff format --check . || status=1; \
	bash tests/run_backends.sh $(PY) $(BACKENDS) || status=1; \
	$(MAKE) --no-print-directory docs || status=1; \
	exit $$status

# The development tier: the same, without the slow tests and the docs build.
test-fast: $(STAMP)
	@status=0; \
	$(PY) -m ruff check . || status=1; \
	$(PY) -m ruff format --check . || status=1; \
	PYTEST_MARKERS="not slow" bash tests/run_backends.sh $(PY) $(BACKENDS) || status=1; \
	exit $$status

# The same suite in its own environment with the newest release of every
# dependency (torch stays pinned by pyproject.toml): a breaking release shows
# here before a user meets it.
test-latest:
	rm -f .venv-latest/.installed
	$(MAKE) --no-print-directory test VENV=.venv-latest CONSTRAINTS=

constraints: $(STAMP)
	{ echo "# The exact versions \`make test\` last passed with (make constraints rewrites it)."; \
	  $(PY) -m pip freeze --exclude-editable --disable-pip-version-check | sed -e 's/+cpu$$//'; \
	} > $(CONSTRAINTS)

# The documentation site, strict: a broken reference or a missing page fails.
# Notebooks are rendered, not executed (they show the recorded quick-mode
# outputs of docs/tutorials/outputs/). Then one page of each kind is checked in
# headless Chromium, screenshots under site/screenshots/ (skipped, exit 2, where
# Chromium is absent; CI installs it).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict
	@$(PY) docs/check_render.py --no-build --site-dir site; status=$$?; \
	if [ $$status -eq 2 ]; then echo "render check skipped: no Chromium"; else exit $$status; fi

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .venv-latest build site *.egg-info

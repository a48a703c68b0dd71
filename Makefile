# Steward: `make run` starts it, `make test` tests it. Both need only Python 3.11+.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run manage test lint bench mutate clean

# A stamp per requirements file: reinstall only when the pins change.
$(VENV)/.run-deps: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Steward needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements-dev.txt $(VENV)/.run-deps
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.run-deps
	DEBUG=$${DEBUG:-1} $(PY) manage.py run_steward

# Any manage.py command with the venv's Python, e.g.
# make manage ARGS="create_api_token admin". After `make run` it uses the
# same dev keys (manage.py finds them under var/).
manage: $(VENV)/.run-deps
	@$(PY) manage.py $(ARGS)

# Throwaway keys for the test processes only; DATABASE_URL and
# CELERY_BROKER_URL, when set, point the suite at PostgreSQL and Redis.
test: $(VENV)/.dev-deps
	SECRET_KEY=test-only-not-secret \
	STEWARD_ENCRYPTION_KEY=dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTAwMDA= \
	$(PY) -m pytest $(PYTEST_ARGS)

# lint-imports holds the floors (.importlinter): an upward import fails.
lint: $(VENV)/.dev-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The production-shaped benchmark (docs/benchmarks.md); it starts and stops
# its own PostgreSQL databases, Redis, gunicorn and workers.
# BENCH_ARGS="--only ingest,dispatch" runs some steps.
bench: $(VENV)/.dev-deps
	$(PY) -m bench $(BENCH_ARGS)

# Mutation testing of the critical modules (bench/mutate.py holds the list);
# long and not part of CI. MUTATE_ARGS="--only matching,dedup" runs some.
mutate: $(VENV)/.dev-deps
	$(PY) -m bench.mutate $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) var staticfiles test-artifacts

# Every target that needs Python creates .venv first: a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test features simulate serve lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# Two workers: most tests wait on the database or a process, so two of them overlap well even
# on two cores; each worker takes whole modules (their database and service stay on one worker).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadscope

# QA: the Gherkin features only, with reports/cucumber.json and reports/features.html (each
# feature, scenario and step with its outcome; written whether the scenarios pass or fail).
# One feature: make features FEATURES=features/test_missing_tables.py
# Some scenarios: make features PYTEST_ARGS='-k "killed"'
FEATURES ?= features
PYTEST_ARGS ?=
features: $(STAMP)
	mkdir -p reports
	rm -f reports/cucumber.json reports/features.html
	$(BIN)/python -m pytest $(FEATURES) $(PYTEST_ARGS) --cucumberjson=reports/cucumber.json; \
		status=$$?; \
		$(BIN)/python -m features.report reports/cucumber.json reports/features.html || exit 1; \
		exit $$status

# This month up to today through the real service, an outage in the middle, totals checked.
# Keep the service up afterwards for its status page: make simulate SIMULATE_ARGS=--keep-serving
SIMULATE_ARGS ?=
simulate: $(STAMP)
	$(BIN)/python -m simulator simulate $(SIMULATE_ARGS)

serve: $(STAMP)
	$(BIN)/python -m service serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# With the webhook's profile (py-spy) in reports/: where its time goes, beside the figures.
BENCH_WEBHOOK_PROFILE ?= reports/webhook-profile.txt
bench: $(STAMP)
	mkdir -p reports
	BENCH_WEBHOOK_PROFILE=$(BENCH_WEBHOOK_PROFILE) $(BIN)/python -m bench

clean:
	rm -rf $(VENV) .data reports .pytest_cache .mypy_cache .ruff_cache

# The targets CI and the README share. Each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo needs trailmin and its runtime dependencies only; the tests add the dev tool set.
RUNTIME := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench-ingest clean

$(RUNTIME): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(RUNTIME)
	rm -rf demo-lake demo-proposals
	$(BIN)/trailmin ingest sample_logs --lake demo-lake
	$(BIN)/trailmin lake info --lake demo-lake
	$(BIN)/trailmin principals --lake demo-lake --format table
	@# Exit code 3 means "proposals to review": what a first run finds.
	$(BIN)/trailmin run sample_logs --lake demo-lake --out demo-proposals --auth-file examples/sample-auth.json --credential-report examples/sample-credential-report.csv; code=$$?; test $$code -eq 0 -o $$code -eq 3
	@echo
	@echo "The lake is in demo-lake/ (Parquet under demo-lake/events/, manifest in demo-lake/_trailmin/)."
	@echo "The proposals are in demo-proposals/: start with demo-proposals/index.md."
	@echo "Try: $(BIN)/trailmin usage --lake demo-lake --principal 'arn:aws:iam::*:role/*' --format table"
	@echo "     $(BIN)/trailmin diff --lake demo-lake --auth-file examples/sample-auth.json"
	@echo "     $(BIN)/trailmin audit --lake demo-lake --auth-file examples/sample-auth.json --credential-report examples/sample-credential-report.csv --password-policy examples/sample-password-policy.json"
	@echo "     $(BIN)/trailmin trust --lake demo-lake --auth-file examples/sample-auth.json"
	@echo "     $(BIN)/python -c \"import trailmin; print(trailmin.Lake('demo-lake').usage().head())\""
	@echo "     notebooks/explore.ipynb explores the same data with plots."

test: $(STAMP)
	$(BIN)/ruff check trailmin tests bench scripts
	$(BIN)/ruff format --check trailmin tests bench scripts
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check trailmin tests bench scripts
	$(BIN)/ruff format --check trailmin tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) demo-lake demo-proposals bench/corpus bench/out .pytest_cache .mypy_cache .ruff_cache

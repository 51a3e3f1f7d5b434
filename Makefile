# The commands people type. Every target sets up .venv first (once, and again when the
# requirements change).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint format migrate openapi db-stop bench clean

$(BIN)/.installed: requirements.txt requirements-cli.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --no-deps --no-build-isolation -e .
	touch $@

## run: serve the API with gunicorn on 127.0.0.1:$(PORT) and run one webhook worker beside it
## (the Procfile, run by honcho; migrations are applied at start). Ctrl-C stops both.
run: $(BIN)/.installed
	PATH="$(abspath $(BIN)):$$PATH" PORT=$(PORT) $(BIN)/honcho start

## test: the whole suite against the embedded PostgreSQL, or DATABASE_URL's server
test: $(BIN)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## migrate: apply pending schema migrations
migrate: $(BIN)/.installed
	$(BIN)/flask --app app db upgrade

## openapi: write openapi.json, the document served at /openapi.json with its keys sorted
## (tests/test_openapi_document.py checks that they are equal). flask-smorest writes the
## document; json.tool sorts it. The document needs no database: the app gets a URL it never
## connects to, where an unset one would start the embedded server.
openapi: $(BIN)/.installed
	DATABASE_URL=postgresql://unused@127.0.0.1:9/unused \
		$(BIN)/flask --app app openapi write $(VENV)/openapi.json
	$(BIN)/python -m json.tool --sort-keys --indent 2 --no-ensure-ascii \
		$(VENV)/openapi.json openapi.json

## db-stop: stop the embedded PostgreSQL server (its data stays in .pgdata/)
db-stop: $(BIN)/.installed
	$(BIN)/python -m leads.db.embedded stop

## bench: the service against the database's own floor at 0, 100,000 and 1,000,000 leads
## (results in bench/results/, see docs/PERFORMANCE.md); BENCH_ARGS=--quick checks the bench
## itself on small rosters. Installs Debian's wrk when missing.
bench: $(BIN)/.installed
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

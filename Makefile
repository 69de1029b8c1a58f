# Aftercare: `make run` to try it, `make test` to test it. Nothing else is needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed


.PHONY: run install migrate demo serve worker test test-postgres lint format messages compile-messages bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py demo_load

run: demo
	$(BIN)/python manage.py collectstatic --noinput -v0
	@echo ""
	@echo "Aftercare is starting on http://$(HOST):$(PORT)/ with its background worker (Ctrl+C to stop)"
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/python manage.py run_huey --workers 2 --worker-type thread & \
	$(BIN)/gunicorn aftercare.wsgi:application --bind $(HOST):$(PORT) --workers 2 \
		--access-logfile - --log-level info

worker: migrate
	$(BIN)/python manage.py run_huey --workers 2 --worker-type thread

# The suite runs in TEST_WORKERS processes (pytest-xdist), each with its own test
# database and cache; TEST_WORKERS=0 runs it in one process (for -x, --pdb, -k ...).
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist worksteal)

test: install
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-postgres: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check aftercare tests bench
	$(BIN)/ruff format --check aftercare tests bench

format: install
	$(BIN)/ruff format aftercare tests bench
	$(BIN)/ruff check --fix aftercare tests bench

# Refresh the catalogs after changing strings (needs GNU gettext: apt-get install gettext).
messages: install
	cd aftercare && ../$(BIN)/python ../manage.py makemessages -l ro -l fr -l uk -l ru -l en --no-obsolete --no-location
	$(BIN)/python -m aftercare.lib.fill_english
	$(BIN)/python manage.py compilemessages -v0

compile-messages: install
	$(BIN)/python manage.py compilemessages -v0

clean:
	rm -rf $(VENV) var .pytest_cache

# Health Workforce Registry. On a fresh machine: `make run` (the demo on http://127.0.0.1:5000) or `make test`.
# Every target is idempotent: the virtualenv and the installs are redone only when the requirements change.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(PY) -m flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000
PG_PORT ?= 55432
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k scope -x"`.
PYTEST_ARGS ?=
# pytest-xdist workers (one per core by default; TEST_WORKERS=0 runs in one process). Whole files go to one worker,
# so a module's shared live server and database copy are built once.
TEST_WORKERS ?= auto
PYTEST_XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

.PHONY: run serve worker test pg-test install install-dev system-packages catalogs db demo-logins bench bench-pg bench-notices

run: install catalogs db demo-logins
	$(FLASK) run --host $(HOST) --port $(PORT)

# Production entry (README, Operations): gunicorn behind nginx, FLASK_PRODUCTION=true (gunicorn.conf.py); needs
# FLASK_SECRET_KEY, FLASK_PII_KEY and a PostgreSQL FLASK_SQLALCHEMY_DATABASE_URI in the environment, else it refuses.
# HWR_BIND (default 127.0.0.1:8000) and HWR_WORKERS (default 2 x CPUs + 1) tune it.
serve: install catalogs
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

# The export-job worker for FLASK_JOB_BACKEND=rq (Redis at FLASK_REDIS_URL); run one or more per deployment.
worker: install catalogs
	FLASK_PRODUCTION=$${FLASK_PRODUCTION:-true} $(FLASK) jobs-worker

test: system-packages install-dev catalogs
	$(PY) -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

# The same suite on a throwaway PostgreSQL (needs Debian's postgresql; see .ci/pg).
pg-test: system-packages install-dev catalogs
	@set -e; dir=$$(mktemp -d /tmp/hwr-pg.XXXXXX); rmdir "$$dir"; \
	trap 'bash .ci/pg stop "$$dir"; rm -rf "$$dir" "$$dir.initdb.log"' EXIT; \
	url=$$(bash .ci/pg start "$$dir" $(PG_PORT)); \
	echo "TEST_DATABASE_URL=$$url"; \
	TEST_DATABASE_URL="$$url" $(PY) -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

# National-scale bench (bench/national, results in bench/RESULTS.md): 1,000,000 staff and 2,000 institutions built
# once and reused, then ours against stock Flask-Admin and the bare SQL floor in one process. SQLite at
# $(BENCH_DIR)/national.db by default, or the PostgreSQL of BENCH_DATABASE_URL; `make bench-pg` runs it on the
# bench's own PostgreSQL cluster in $(BENCH_PG_DIR) on port $(BENCH_PG_PORT), kept between runs.
# BENCH_REPS, BENCH_EXPORT_REPS, BENCH_SKIP_STOCK_EXPORT=1, BENCH_OUT=file.md tune it (bench/national/run.py).
BENCH_DIR ?= /work/bench-data
BENCH_PG_DIR ?= $(BENCH_DIR)/pg
BENCH_PG_PORT ?= 55433
export BENCH_DIR

bench: install-dev catalogs
	cd bench/national && ../../$(PY) prepare.py && ../../$(PY) run.py

bench-pg: install-dev catalogs
	@set -e; trap 'bash "$(CURDIR)/bench/national/pg.sh" stop "$(BENCH_PG_DIR)"' EXIT; \
	url=$$(bash "$(CURDIR)/bench/national/pg.sh" start "$(BENCH_PG_DIR)" $(BENCH_PG_PORT)); echo "BENCH_DATABASE_URL=$$url"; \
	cd bench/national && BENCH_DATABASE_URL="$$url" ../../$(PY) prepare.py && BENCH_DATABASE_URL="$$url" ../../$(PY) run.py

# Bulk reject of 1,000 with and without SMS notices (issue 21; bench/notices, its own small database).
bench-notices: install-dev catalogs
	$(PY) bench/notices/run.py

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# Playwright's own browser download is never used: the browser tests drive Debian's /usr/bin/chromium.
$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed

# Debian's chromium and fonts-noto-cjk for the browser tests: installed through apt-get when missing (as root or by
# a password-less sudo), else one line says what to install and make stops before pytest.
system-packages:
	@bash scripts/ensure-system-packages chromium fonts-noto-cjk

catalogs: install
	$(PY) -m admin_app.i18n

# Schema, regions, and the demo when the database has no users yet (instance/registry.db by default).
db: install
	$(FLASK) db upgrade
	$(FLASK) load-regions
	$(FLASK) seed-demo --if-empty

demo-logins: install
	@$(PY) -c 'from admin_app.seed import DEMO_LOGINS, DEMO_PASSWORD; \
	print("\nDemo logins (password " + DEMO_PASSWORD + "), on http://$(HOST):$(PORT)/login"); \
	print("\n".join("  " + p + "  " + w for p, w in DEMO_LOGINS) + "\n")'

# fermonitor: `make run` sets everything up and serves http://127.0.0.1:8000; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Bigger glibc mmap/trim thresholds make repeated JPEG decoding ~2x faster (measured in the inference issue). The
# mmap threshold is above a 1080p screen capture's 6 MB of pixels: at 4 MiB every capture frame was a fresh mmap,
# 5.3 ms to decode against 4.3 ms (bench/bench_gallery.py).
export MALLOC_MMAP_THRESHOLD_ ?= 16777216
export MALLOC_TRIM_THRESHOLD_ ?= 16777216

# Test workers (pytest-xdist): two where the machine has two cores or more; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); if [ $$n -ge 2 ]; then echo 2; else echo 0; fi)
# `make run` streams a simulated class into the demo's live lesson; DEMO_SIM=0 leaves it still.
DEMO_SIM ?= 1
# makemessages skips what is not ours.
MESSAGES_IGNORE := --ignore=.venv --ignore=.venv-lrs --ignore=node_modules --ignore=models --ignore=staticfiles --ignore=bench --ignore=tests

.PHONY: setup run demo serve test test-fast lrs lint format migrations-check messages screenshots bench bench-load bench-gallery bench-capacity bench-faults gpu-bundle clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,train]'
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required for the front-end packages (apt-get install -y npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The real Learning Record Store the xAPI tests talk to (ralph, `ralph runserver -b fs`), in a virtualenv of its
# own: its pins (pydantic 2, click<8.2.1, importlib-metadata<8.6, fastapi, uvicorn) must not move ours.
LRS_VENV := .venv-lrs
$(LRS_VENV)/.installed:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(LRS_VENV)
	$(LRS_VENV)/bin/pip install --quiet --upgrade pip
	$(LRS_VENV)/bin/pip install --quiet 'ralph-malph[cli,lrs]==5.1.*' 'requests>=2.31'
	touch $@

lrs: $(LRS_VENV)/.installed

models/.installed: $(VENV)/.installed
	$(BIN)/python -m inference setup
	touch $@

setup: $(VENV)/.installed node_modules/.installed models/.installed
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo

run: setup demo

# The demo server on the zero-setup default, and beside it, in the same process group (one Ctrl+C stops them all):
# the background worker for recorded lessons and the demo's simulated class (DEMO_SIM=0 leaves it out). The
# worker's first signal would wait for a running analysis to finish; the trap's SIGTERM is its second, so it hands
# the job back to the queue instead (the next start picks it up, after re-queuing jobs whose worker died).
demo:
	@echo "fermonitor on http://127.0.0.1:$(PORT)/  (Ctrl+C stops it)"
	$(BIN)/python manage.py recover_recordings -v0
	@trap 'kill 0' EXIT; \
	$(BIN)/python manage.py db_worker --no-reload & \
	if [ "$(DEMO_SIM)" != 0 ]; then \
		echo "A simulated class streams into the demo's live lesson (DEMO_SIM=0 turns it off)"; \
		$(BIN)/python manage.py simulate_class --url http://127.0.0.1:$(PORT) & \
	fi; \
	$(BIN)/daphne -b 127.0.0.1 -p $(PORT) fermonitor.asgi:application

# Production: WORKERS Daphne processes (default one per core) sharing one port, on PostgreSQL + Redis
# (DATABASE_URL, REDIS_URL; see README "Running several server processes"). HOST=0.0.0.0 to listen on all interfaces.
WORKERS ?= $(shell nproc 2>/dev/null || echo 1)
HOST ?= 127.0.0.1
serve: $(VENV)/.installed node_modules/.installed models/.installed
	$(BIN)/python -m fermonitor.serve --check
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python -m fermonitor.serve --workers $(WORKERS) --host $(HOST) --port $(PORT)

test: $(VENV)/.installed node_modules/.installed models/.installed $(LRS_VENV)/.installed
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The inner loop: everything but the browser and slow end-to-end tests, on two workers.
test-fast: $(VENV)/.installed models/.installed $(LRS_VENV)/.installed
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not browser and not slow" $(PYTEST_ARGS)

# After adding or changing user-facing strings: update the catalogues (locale/hi/LC_MESSAGES/*.po), translate the
# new entries, then `make messages` again to compile the .mo files (both are committed).
messages: $(VENV)/.installed
	$(BIN)/python manage.py makemessages -l hi -d django --no-location --no-wrap $(MESSAGES_IGNORE)
	$(BIN)/python manage.py makemessages -l hi -d djangojs --no-location --no-wrap $(MESSAGES_IGNORE) --ignore=static/vendor
	$(BIN)/python manage.py compilemessages -l hi --ignore=.venv --ignore=node_modules

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: $(VENV)/.installed
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: models/.installed
	$(BIN)/python bench/bench_inference.py

clean:
	rm -rf $(VENV) $(LRS_VENV) node_modules models staticfiles db.sqlite3 db.sqlite3-wal db.sqlite3-shm

# Live-session load benchmark (bench/load.py): Daphne on PostgreSQL + Redis, STUDENTS simulated students.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/fermonitor_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/2
STUDENTS ?= 50
SERVERS ?= 1
bench-load: $(VENV)/.installed models/.installed
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python bench/load.py --start-server --servers $(SERVERS) --students $(STUDENTS) $(BENCH_ARGS)

# Many faces in one screen capture (issue #12): recall on 5x5/7x7 galleries, per-stage ms of a 1080p frame.
bench-gallery: $(VENV)/.installed models/.installed
	$(BIN)/python bench/bench_gallery.py $(BENCH_ARGS)

# The load report (bench/capacity.py): inference-only frames/s beside the live capacity of `make serve`, one run.
bench-capacity: $(VENV)/.installed models/.installed
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python bench/capacity.py $(BENCH_ARGS)

# The fault benchmark (bench/bench_faults.py, docs/operations.md): starts its own throwaway PostgreSQL and Redis.
bench-faults: $(VENV)/.installed models/.installed
	$(BIN)/python bench/bench_faults.py $(BENCH_ARGS)

# What a GPU machine without TensorFlow needs to train (docs/training.md): Keras for its Python 3.12, and the
# training images, which do not travel with the working tree. Carry `.gpu` in the device tool's `run`.
gpu-bundle: $(VENV)/.installed
	mkdir -p .gpu
	$(BIN)/pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu \
		keras==$$($(BIN)/python -c 'import keras; print(keras.__version__)') namex optree
	tar czf .gpu/fer2013-train.tar.gz -C $(or $(FERMONITOR_SHARED_DIR),../shared)/data fer2013-train
	du -sh .gpu

# The README's pictures (docs/screenshots/), taken by the living-demo browser test. The Hindi ones need a Devanagari
# font for Chromium (apt-get install fonts-noto-core), else they show boxes.
screenshots: $(VENV)/.installed node_modules/.installed models/.installed
	FERMONITOR_SCREENSHOTS=docs/screenshots $(BIN)/pytest -p no:cacheprovider tests/live/test_living_demo.py

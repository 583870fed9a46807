# fermonitor: `make run` sets everything up and serves http://127.0.0.1:8000; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Bigger glibc mmap/trim thresholds make repeated JPEG decoding ~2x faster (measured in the inference issue).
export MALLOC_MMAP_THRESHOLD_ ?= 4194304
export MALLOC_TRIM_THRESHOLD_ ?= 16777216

.PHONY: setup run test test-fast lint format migrations-check bench bench-load gpu-bundle clean

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

models/.installed: $(VENV)/.installed
	$(BIN)/python -m inference setup
	touch $@

setup: $(VENV)/.installed node_modules/.installed models/.installed
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo

run: setup
	@echo "fermonitor on http://127.0.0.1:$(PORT)/  (Ctrl+C stops it)"
	$(BIN)/daphne -b 127.0.0.1 -p $(PORT) fermonitor.asgi:application

test: $(VENV)/.installed node_modules/.installed models/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(VENV)/.installed
	$(BIN)/pytest -m "not browser and not slow" $(PYTEST_ARGS)

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
	rm -rf $(VENV) node_modules models staticfiles db.sqlite3

# Live-session load benchmark (bench/load.py): Daphne on PostgreSQL + Redis, STUDENTS simulated students.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/fermonitor_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/2
STUDENTS ?= 50
bench-load: $(VENV)/.installed models/.installed
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python bench/load.py --start-server --students $(STUDENTS) $(BENCH_ARGS)

# What a GPU machine without TensorFlow needs to train (docs/training.md): Keras for its Python 3.12, and the
# training images, which do not travel with the working tree. Carry `.gpu` in the device tool's `run`.
gpu-bundle: $(VENV)/.installed
	mkdir -p .gpu
	$(BIN)/pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu \
		keras==$$($(BIN)/python -c 'import keras; print(keras.__version__)') namex optree
	tar czf .gpu/fer2013-train.tar.gz -C $(or $(FERMONITOR_SHARED_DIR),../shared)/data fer2013-train
	du -sh .gpu

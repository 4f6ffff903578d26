# Two commands: `make run` (set up, then launch the chat page on the bundled corpus) and
# `make test` (set up, then run the tests). Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
# PyTorch's CPU build. Where pip cannot find a CPU wheel of torch 2.13.0 by itself, use
#   make run TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=
PIP = $(VENV)/bin/python -m pip

.PHONY: run test check lint setup clean-index axe answer-scorer

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH_PIP_ARGS) "torch==2.13.0"
	$(PIP) install --quiet -c constraints.txt -e ".[test]"
	touch $@

setup: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/python app.py

# axe-core (npm) for the browser tests' accessibility checks; skipped with a reason without npm.
axe:
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix tests/axe --no-audit --no-fund --silent; \
	else \
		echo "note: npm is not installed; the axe-core accessibility tests will be skipped" >&2; \
	fi

# The whole suite: real model, real browser, real data where ../shared is present.
test: $(VENV)/.installed axe
	$(VENV)/bin/python -m pytest

# For development, in seconds: lint, types and the tests that need neither the model nor a browser
# nor seconds each (marked slow). Modules holding only such tests are not even imported:
# importing Gradio or Hypothesis alone costs seconds.
CHECK_SKIPS = tests/serve/test_browser.py tests/serve/test_admin_browser.py tests/serve/test_members_browser.py \
	tests/sources/test_hostile_records_fuzz.py
# Spread over the cores (pytest-xdist, a test file per worker); Hypothesis's plugin is left out
# since its only user, the fuzz test, is in CHECK_SKIPS.
check: lint
	$(VENV)/bin/python -m pytest -m "not slow and not browser" -q -p no:cacheprovider \
		-n auto --maxprocesses 4 --dist loadfile -p no:hypothesispytest \
		$(addprefix --ignore=,$(CHECK_SKIPS))

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Refit the learned answer scorer (src/sendsearch/data/answer-scorer.json and its trees) from
# training/data, with features computed on the index given (about 35 minutes on 2 cores; the
# optional sentence reranker is trained by the script's --reranker): one over all Commons answers, e.g.
#   sendsearch build ../shared/data/commons-written-answers.jsonl.gz corpus --index commons-index
#   make answer-scorer INDEX=commons-index
answer-scorer: $(VENV)/.installed
	@test -n "$(INDEX)" || { echo "usage: make answer-scorer INDEX=path/to/commons-index" >&2; exit 2; }
	$(VENV)/bin/python training/train_answer_scorer.py --index "$(INDEX)" --limit 0

clean-index:
	rm -rf index

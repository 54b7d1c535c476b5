# Two commands do all the set-up on a fresh machine:
#   make demo   - acb exec on the bundled example project (offline, scripted model, real tools)
#   make test   - lint, type-check and the whole test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo demo-autopilot test test-slow lint bench bench-edits bench-context bench-review bench-peers bench-serve system-deps clean

system-deps:
	@scripts/system-deps.sh

$(STAMP): pyproject.toml
	@echo "creating $(VENV) and installing acb with its dependencies: tree-sitter grammars, bm25s,"
	@echo "the review analysers (ruff, bandit, semgrep, ...), deploy validators,"
	@echo "the evaluation engines (swebench, ray) and the test tools (pytest, mypy, ...): about 2 GB,"
	@echo "a few minutes the first time"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,semgrep,deploy,eval]'
	@touch $(STAMP)

demo: system-deps $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" scripts/demo.sh

# acb autopilot --deploy auto on the example: a release caught by the monitor, rolled back, fixed
demo-autopilot: system-deps $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/demo_autopilot.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The quick suite (what to run while working) and the end-to-end one; CI runs both.
test: system-deps lint
	$(BIN)/python -m pytest -q -n auto -m "not slow"

test-slow: system-deps $(STAMP)
	@scripts/system-deps.sh --browser
	ACB_REQUIRE_BROWSER=1 ACB_REQUIRE_REGISTRY=1 $(BIN)/python -m pytest -q -n auto --dist loadgroup -m slow

bench: system-deps $(STAMP)
	$(BIN)/python bench/startup.py --write
	$(BIN)/python bench/sandbox.py --write

BENCH_CACHE ?= $(HOME)/.cache/acb-bench
bench-edits: $(STAMP)
	@mkdir -p $(BENCH_CACHE)/repos
	@for repo in pallets/flask psf/requests pallets/click; do \
		name=$${repo#*/}; [ -d $(BENCH_CACHE)/repos/$$name ] || \
		git clone -q https://github.com/$$repo $(BENCH_CACHE)/repos/$$name; done
	$(BIN)/python bench/edits/corpus.py --out $(BENCH_CACHE)/edits-corpus.jsonl \
		--repo $(BENCH_CACHE)/repos/flask --repo $(BENCH_CACHE)/repos/requests \
		--repo $(BENCH_CACHE)/repos/click
	$(BIN)/python bench/edits/run.py --write

bench-review: $(STAMP)
	@mkdir -p $(BENCH_CACHE)/repos
	@for repo in pallets/flask psf/requests pallets/click; do \
		name=$${repo#*/}; [ -d $(BENCH_CACHE)/repos/$$name ] || \
		git clone -q https://github.com/$$repo $(BENCH_CACHE)/repos/$$name; done
	$(BIN)/python bench/review/run.py --repo $(BENCH_CACHE)/repos/flask \
		--repo $(BENCH_CACHE)/repos/requests --repo $(BENCH_CACHE)/repos/click --write

bench-peers: system-deps $(STAMP)
	ACB_BENCH_CACHE=$(BENCH_CACHE) $(BIN)/python -m bench.peers --runs 5 --write

bench-context: $(STAMP)
	ACB_BENCH_CACHE=$(BENCH_CACHE) $(BIN)/python bench/context/run.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache

# SWE-bench Lite gold patches through the edit engine. LITE_REPOS=DIR uses clones or bare mirrors
# already there (owner__name or owner+name); without it, bare clones go to the bench cache.
LITE_PROJECTS := astropy/astropy django/django matplotlib/matplotlib mwaskom/seaborn \
	pallets/flask psf/requests pydata/xarray pylint-dev/pylint pytest-dev/pytest \
	scikit-learn/scikit-learn sphinx-doc/sphinx sympy/sympy
LITE_COMMITS ?= 400
LITE_HISTORY ?= sympy/sympy sphinx-doc/sphinx pytest-dev/pytest
.PHONY: bench-lite-patches
bench-lite-patches: $(STAMP)
	@repos="$(LITE_REPOS)"; if [ -z "$$repos" ]; then repos=$(BENCH_CACHE)/lite-repos; \
		mkdir -p $$repos; for repo in $(LITE_PROJECTS); do \
		dir=$$repos/$$(echo $$repo | sed 's|/|__|'); [ -d $$dir ] || \
		git clone -q --bare https://github.com/$$repo $$dir || echo "$$repo: not cloned"; \
		done; fi; \
	$(BIN)/python bench/edits/lite.py --repos $$repos --before bench/edits/lite_baseline.json \
		--commits $(LITE_COMMITS) $(foreach p,$(LITE_HISTORY),--history $(p)) --write

# acb on real SWE-bench Lite bugs with default settings, end to end (issue 16). REAL_REPOS=DIR
# uses clones or bare mirrors already there (owner__name or owner+name); without it, bare clones
# go to the same cache as bench-lite-patches. Project venvs are built once in the bench cache.
REAL_PROJECTS := sympy/sympy pallets/flask pytest-dev/pytest psf/requests pylint-dev/pylint
.PHONY: bench-real
bench-real: system-deps $(STAMP)
	@repos="$(REAL_REPOS)"; if [ -z "$$repos" ]; then repos=$(BENCH_CACHE)/lite-repos; \
		mkdir -p $$repos; for repo in $(REAL_PROJECTS); do \
		dir=$$repos/$$(echo $$repo | sed 's|/|__|'); [ -d $$dir ] || \
		git clone -q --bare https://github.com/$$repo $$dir || echo "$$repo: not cloned"; \
		done; fi; \
	$(BIN)/python bench/real/run.py --repos $$repos --envs $(BENCH_CACHE)/real-envs \
		--json $(BENCH_CACHE)/bench-real.json --write

# The evaluation harness checked with gold (issue 19): acb eval swe-bench over the instances of
# bench/eval/lite-32.txt, with 2 and 1 local workers and on Ray. EVAL_REPOS=DIR uses clones or
# bare mirrors already there; without it, acb eval clones what it needs into its cache.
.PHONY: bench-eval
bench-serve: $(STAMP)
	$(BIN)/python bench/serve.py --write

bench-eval: system-deps $(STAMP)
	$(BIN)/python bench/eval/run.py $(if $(EVAL_REPOS),--repos $(EVAL_REPOS),--repos $(BENCH_CACHE)/lite-repos) --write

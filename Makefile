# Two commands set everything up on a fresh machine:  make demo  and  make test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: demo test install lint bench clean ui mutate

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch==2.13.0 is a CPU build; pinning it keeps pip from pulling a multi-GB CUDA build.
$(STAMP): $(PY) pyproject.toml
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[diffusers,ui,dev]'
	touch $(STAMP)

install: $(STAMP)

# Online, the default model is pulled first (its size said, then a progress bar) so the demo has real pictures;
# offline (or HF_HUB_OFFLINE=1) that is one line, and --backend auto draws sketch cards.
demo: $(STAMP)
	mkdir -p out
	$(VENV)/bin/storyreel models pull --if-reachable
	$(VENV)/bin/storyreel make storyreel/data/example_story.md -o out/demo.mp4 --project out/demo.storyreel --backend auto

lint: $(STAMP)
	$(VENV)/bin/ruff check storyreel tests bench

test: $(STAMP)
	$(VENV)/bin/ruff check storyreel tests bench
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/render.py
	$(PY) bench/ui.py
	$(PY) bench/characters.py

ui: $(STAMP)
	mkdir -p out
	$(VENV)/bin/storyreel ui out

clean:
	rm -rf out .pytest_cache artifacts mutants

# Mutation testing (mutmut; the scope is in pyproject.toml): many hours for the whole scope on a 2-core machine;
# run again, a plain `make mutate` goes on where it stopped. `make mutate MUTANTS='storyreel.render.timeline*'` runs
# a part, `make mutate SAMPLE=120` a seeded random draw of 120 from the whole scope, scored alone (about an hour);
# mutants named either way are run again each time.
mutate: $(STAMP)
	$(PIP) install --quiet 'mutmut==3.8.1'
	names="$(MUTANTS)"; \
	if [ -n "$(SAMPLE)" ]; then names=$$($(PY) tests/mutation_score.py --pick $(SAMPLE)) || exit 1; fi; \
	$(VENV)/bin/mutmut run --max-children $(or $(JOBS),2) $$names
	$(PY) tests/mutation_score.py $(if $(SAMPLE),--picked)

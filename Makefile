# make chat   set everything up, then chat with the assistant in the terminal
# make test   set everything up, then run all tests (lint and the fast unit tests first)
# make fuzz   the long fuzz runs (hypothesis profile "fuzz")
APP := .venv/app/bin/python
RASA := .venv/rasa/bin/python
UNIT := -m "not services and not model and not fuzz"

.PHONY: bootstrap setup chat test unit lint fuzz serve eval bench bench-report bench-cv bench-wecom bench-load bench-turn bench-memory validate lock clean e2e

bootstrap:
	@scripts/bootstrap.sh

setup: bootstrap
	@$(APP) -m assistant setup

chat: setup
	@$(APP) -m assistant chat

serve: setup
	@$(APP) -m assistant serve

# Lint, then the tests that need no Rasa model (under two minutes), then setup (Rasa training when stale)
# and the tests that start the real servers or load the real model.
test: bootstrap
	@$(MAKE) --no-print-directory lint
	@$(APP) -m pytest -q $(UNIT) tests
	@$(APP) -m assistant setup
	@$(APP) -m assistant validate
	@$(RASA) -m pytest -q -p no:cacheprovider tests/rasa_env
	@$(APP) -m pytest -q -m "services or model or fuzz" tests

unit: bootstrap
	@$(APP) -m pytest -q $(UNIT) tests

lint: bootstrap
	@$(APP) -m ruff check assistant actions
	@$(APP) -m mypy

# The complaint form end to end: Rasa's `rasa test core` on tests/e2e/ (also in make test's Rasa step), then the
# form's dialogues through the real Rasa and action servers (also in make test's last step).
e2e: setup
	@$(RASA) -m pytest -q -p no:cacheprovider tests/rasa_env/test_form_stories.py
	@$(APP) -m pytest -q -p no:cacheprovider -m services tests/test_form_dialogues.py

# The repo's case and dialogue sets (tests/data/*.yml and tests/heldout/*.yml; the moderation sets go to
# `bench moderation`).
EVAL_FILES = $(filter-out %moderation.yml %garbage_compounds.yml,$(wildcard tests/data/*.yml tests/heldout/*.yml))

eval: setup
	@$(APP) -m assistant eval $(EVAL_FILES)

# Retrieval modes, the baselines beside the assistant on the same cases (trains Rasa's FAQ recipe once,
# cached in models/baselines/), REST latency beside Rasa's /model/parse, moderation, and the garbage item table
# on its compound-name corpus.
bench: setup
	@$(APP) -m assistant bench retrieval tests/data/eval_cases.yml
	@$(APP) -m assistant bench baselines $(EVAL_FILES)
	@$(APP) -m assistant bench latency
	@for f in $(wildcard tests/heldout/*moderation.yml); do $(APP) -m assistant bench moderation $$f || exit 1; done
	@$(APP) -m assistant bench garbage tests/data/garbage_compounds.yml

# the quarterly report from a seeded synthetic quarter (6,000 messages, 300 tickets): prints the build time (goal < 30 s)
bench-report: setup
	@$(APP) -m assistant report --quarter 2026Q4 --bench --out models/reports/bench

# 5-fold cross-validated intent F1 (rasa test nlu --cross-validation): per intent and weighted; ~10 min on 2 cores
bench-cv: setup
	@$(APP) -m assistant.devtools.nlu_bench cv --folds 5

# The WeCom flood: 500 encrypted callbacks (10% duplicated, 5% forged) at `python -m assistant wecom`,
# kill -9 of the adapter mid-stream; prints replies per message, lost/doubled, latency (~2 min)
bench-wecom: setup
	@$(APP) -m tests.adapters.wecom_flood -n 500

# The scaled-out topology under load (minutes): `cluster up` (2 Rasa + 2 action servers behind haproxy, PostgreSQL,
# Redis) on the Rasa/action ports, Locust residents at 8/32/64, one Rasa and one action server killed in the last
# step; prints throughput and p50/p95/p99 per step, lost turns, duplicated tickets; plot in .run/bench-load.png.
bench-load: setup
	@$(APP) -m assistant cluster up --db assistant_load
	@$(APP) -m assistant bench load; rc=$$?; $(APP) -m assistant cluster down --drop; exit $$rc

# Where a turn's time goes (client, HTTP hops, NLU, policies, action, retrieval, database), beside /model/parse.
bench-turn: setup
	@$(APP) -m assistant bench turn

# Both servers' resident memory once warm and after 1,000 turns (bar: 1,200 MiB together).
bench-memory: setup
	@$(APP) -m assistant bench memory

validate: setup
	@$(APP) -m assistant validate

# The long fuzz runs (hypothesis profile "fuzz"): every fuzz and schema test, >= 10,000 inputs each where
# the suite allows (the console's schema run is capped at 1,000 per operation). Minutes to hours.
fuzz: bootstrap
	@$(APP) -m pytest -q -p no:cacheprovider --hypothesis-profile=fuzz -m fuzz tests

# Re-pin the environments after changing requirements/*.in
lock:
	$(RASA) -m pip freeze --all --exclude-editable | grep -v "^pip=="  > requirements/rasa.lock
	$(APP) -m pip freeze --all --exclude-editable | grep -v "^pip=="  > requirements/app.lock

clean:
	rm -rf .run models/index

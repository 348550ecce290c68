# make chat   set everything up, then chat with the assistant in the terminal
# make test   set everything up, then run all tests
APP := .venv/app/bin/python
RASA := .venv/rasa/bin/python

.PHONY: setup chat test serve eval bench validate lock clean fuzz

setup:
	@scripts/bootstrap.sh
	@$(APP) -m assistant setup

chat: setup
	@$(APP) -m assistant chat

serve: setup
	@$(APP) -m assistant serve

test: setup
	@$(APP) -m assistant validate
	@$(RASA) -m pytest -q -p no:cacheprovider tests/rasa_env
	@$(APP) -m pytest -q tests

eval: setup
	@$(APP) -m assistant eval tests/data/eval_cases.yml

bench: setup
	@$(APP) -m assistant bench retrieval tests/data/eval_cases.yml
	@$(APP) -m assistant bench latency

validate: setup
	@$(APP) -m assistant validate

# The long fuzz runs: every test named *fuzz*, >= 10,000 generated inputs each (minutes)
fuzz:
	@$(APP) -m pytest -q -p no:cacheprovider --hypothesis-profile=fuzz -m "not services and not model" -k fuzz tests

# Re-pin the environments after changing requirements/*.in
lock:
	$(RASA) -m pip freeze --all --exclude-editable | grep -v "^pip=="  > requirements/rasa.lock
	$(APP) -m pip freeze --all --exclude-editable | grep -v "^pip=="  > requirements/app.lock

clean:
	rm -rf .run models/index

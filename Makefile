# The two entry points of the README. Both set everything up first (idempotent, fast
# when nothing changed): .venv, llama-cpp-python built for this CPU, CPU torch, localchain.
.PHONY: setup chat test

setup:
	bash scripts/setup.sh

chat: setup
	.venv/bin/localchain chat

test: setup
	.venv/bin/python -m pytest --durations=15

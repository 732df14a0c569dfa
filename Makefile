.PHONY: setup demo test bench lint
setup:
	scripts/setup --test
demo:
	scripts/demo
test:
	scripts/test
bench:
	.venv/bin/python -m benchmarks.run
lint:
	.venv/bin/ruff check nurturedesk tests benchmarks && .venv/bin/mypy

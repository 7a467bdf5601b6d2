# The two commands of mail_router (see README.md). Both set up what they need first.
.PHONY: run test bootstrap lint bench fuzz

PYTHON_VENV := .venv/bin/python

# the port first: taken, make run stops at once and says how to run on another
run:
	@$${PYTHON:-python3} scripts/http_port.py
	@scripts/bootstrap.sh
	$(PYTHON_VENV) scripts/run_odoo.py

test: bootstrap
	$(PYTHON_VENV) scripts/run_tests.py $(SUITES)

bootstrap:
	@scripts/bootstrap.sh

PYLINT_ODOO := .venv/bin/pylint --rcfile=.pylintrc-odoo --disable=missing-readme,bad-builtin-groupby

lint: bootstrap
	.venv/bin/ruff check .
	$(PYLINT_ODOO) mail_router mail_router_sale mail_router_purchase mail_router_account test_mail_router

# BENCH_ARGS="--count 60 --latency-ms 0 --skip-routing" ... (see bench/bench_gateway.py --help)
bench: bootstrap
	$(PYTHON_VENV) bench/bench_gateway.py $(BENCH_ARGS)

# FUZZ_SEED=... FUZZ_CASES=... FUZZ_SECONDS=... (see scripts/run_fuzz.py)
fuzz: bootstrap
	$(PYTHON_VENV) scripts/run_fuzz.py

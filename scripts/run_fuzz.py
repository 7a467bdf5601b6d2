"""`make fuzz`: the fuzzing run of the whole pipeline (test_mail_router/tests/test_fuzz_pipeline.py)
with many cases, on a fresh database of a private PostgreSQL cluster.

    make fuzz                                   10,000 cases, a new seed (printed)
    make fuzz FUZZ_SEED=1234 FUZZ_CASES=500     replay seed 1234, 500 cases
    FUZZ_SECONDS=...                            stop starting new cases after this long (default 3600)

MAIL_ROUTER_CORPUS points at the shared corpus (default ../shared/corpus). The log is kept
in .data/test-logs/fuzz.log; a failing input in .data/fuzz-failures/.
"""
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pgcluster
from odoo_cli import oca_addons, odoo_command
from run_tests import LOGS, SUMMARY_RE, database_context

FUZZ_TAG = "/test_mail_router:TestFuzzPipeline"
# What the run shows of Odoo's output: the fuzz's own lines, and whatever went wrong.
SHOWN = (".test_mail_router.tests.test_fuzz_pipeline: ", " ERROR ", " CRITICAL ", "Traceback")


def fuzz_environment():
    seed = os.environ.get("FUZZ_SEED") or str(secrets.randbelow(2**32))
    return dict(os.environ,
                MAIL_ROUTER_FUZZ_SEED=seed,
                MAIL_ROUTER_FUZZ_CASES=os.environ.get("FUZZ_CASES") or "10000",
                MAIL_ROUTER_FUZZ_SECONDS=os.environ.get("FUZZ_SECONDS") or "3600")


def run_shown(command, env, log_path):
    """Run ``command``, keep its whole output in ``log_path``, show the lines that matter."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   env=env, text=True, errors="replace")
        for line in process.stdout:
            log.write(line)
            if any(mark in line for mark in SHOWN) or SUMMARY_RE.search(line):
                sys.stdout.write(line)
        return process.wait()


def main():
    env = fuzz_environment()
    print(f"== fuzz: seed {env['MAIL_ROUTER_FUZZ_SEED']}, {env['MAIL_ROUTER_FUZZ_CASES']} cases, "
          f"at most {env['MAIL_ROUTER_FUZZ_SECONDS']} s (replay: make fuzz FUZZ_SEED={env['MAIL_ROUTER_FUZZ_SEED']})",
          flush=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / "fuzz.log"
    started = time.monotonic()
    oca_folder, _modules = oca_addons()  # test_mail_router depends on OCA's helpdesk_mgmt
    with tempfile.TemporaryDirectory(prefix="mail_router_fuzz_") as tmp, database_context(["addon"]) as database:
        command = odoo_command(
            database, "test_fuzz", "--init=mail_router,test_mail_router", "--test-enable",
            f"--test-tags={FUZZ_TAG}", "--stop-after-init", "--log-level=info",
            f"--http-port={pgcluster.free_port()}", "--max-cron-threads=0", data_dir=Path(tmp) / "odoo-data",
            extra_addons=(oca_folder,))
        code = run_shown(command, env, log_path)
    summary = SUMMARY_RE.findall(log_path.read_text())
    failed = code != 0 or not summary or summary[-1][:2] != ("0", "0") or summary[-1][2] == "0"
    print(f"== fuzz: {'FAILED' if failed else 'passed'} in {time.monotonic() - started:.0f} s "
          f"(seed {env['MAIL_ROUTER_FUZZ_SEED']}; log: {log_path})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

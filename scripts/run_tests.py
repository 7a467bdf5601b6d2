"""`make test`: every suite of the project on a private PostgreSQL cluster.

Suites:
  core     pytest on the Odoo-free packages (routing, fetching), no database
  addon    the Odoo tests of mail_router and test_mail_router, on a fresh database
  compat   Odoo's own test_mail (all of it) with mail_router installed
  peers    the mail tests of Odoo's apps that receive mail, with mail_router installed
  neighbours  the tests of the OCA modules (requirements-oca-neighbours.txt) with mail_router
  system   pytest tests that drive Odoo from outside (install/uninstall, ...)

Odoo exits 0 when a test tag matches no test, so each Odoo suite checks what ran.
The last line is ``N passed, N failed`` over all suites; the exit code is non-zero
on any failure.
"""
import argparse
import concurrent.futures
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pgcluster
from odoo_cli import REPO, VENV_PYTHON, oca_addons, odoo_command

LOGS = REPO / ".data" / "test-logs"
# All of Odoo's test_mail, as an Odoo developer runs it before trusting an addon that
# overrides mail.thread.
COMPAT_TESTS = "/test_mail"
COMPAT_TEST_COUNT = 483
EXPECTED_COMPAT_FAILURES = REPO / "scripts" / "compat_expected_failures.txt"
# The mail tests of Odoo's Community apps that receive mail (issue 16), as their developers
# run them; expected: stock's results on this machine (peers_expected_failures.txt).
PEERS_MODULES = "mail_group,hr_recruitment,crm,project,test_mass_mailing,test_mail_full,microsoft_outlook"
PEERS_TESTS = ",".join((
    "/mail_group", "/hr_recruitment:TestRecruitmentProcess",
    "/crm/tests/test_crm_lead_notification.py", "/crm/tests/test_crm_lead_multicompany.py",
    "/crm/tests/test_crm_lead.py", "/project:TestProjectFlow", "/test_mass_mailing:TestMassMailing",
    "/test_mail_full", "/microsoft_outlook"))
PEERS_TEST_COUNT = 149
EXPECTED_PEERS_FAILURES = REPO / "scripts" / "peers_expected_failures.txt"
# The OCA modules of requirements-oca-neighbours.txt, with mail_router: the fetchmail
# modules' tests through test_mail_router_neighbours (their own run at their install,
# before mail_router is loaded), helpdesk_mgmt's as they are (it loads after mail_router).
# helpdesk_mgmt's TestHelpdesMgmtJs runs the whole web client's unit tests in Chromium (20 min).
NEIGHBOURS_MODULES = "test_mail_router_neighbours,helpdesk_mgmt"
NEIGHBOURS_TESTS = "/test_mail_router_neighbours,/helpdesk_mgmt,-/helpdesk_mgmt:TestHelpdesMgmtJs"
NEIGHBOURS_TEST_COUNT = 67
EXPECTED_NEIGHBOURS_FAILURES = REPO / "scripts" / "neighbours_expected_failures.txt"
SUMMARY_RE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
FAILURE_RE = re.compile(r" ERROR \S+ (odoo\.addons\.[\w.]+): (?:FAIL|ERROR): (?:Subtest )?(\S+)")
STARTED_RE = re.compile(r" odoo\.addons\.(\w+)\.tests\.[\w.]+: Starting ")


@dataclass
class Outcome:
    suite: str
    passed: int = 0
    failed: int = 0
    # tests of Odoo that fail on purpose with mail_router (README, compat_expected_failures.txt):
    # neither passes nor failures
    known_differences: int = 0
    # tests of Odoo that fail on stock Odoo on this machine too (peers_expected_failures.txt):
    # neither passes nor failures
    failing_on_stock: int = 0
    problems: list = field(default_factory=list)

    def counts(self):
        known = f", {self.known_differences} known differences" if self.known_differences else ""
        stock = f", {self.failing_on_stock} failing on stock too" if self.failing_on_stock else ""
        return f"{self.passed} passed{known}{stock}, {self.failed} failed"

    def fail(self, problem):
        self.failed += 1
        self.problems.append(problem)


def run_logged(command, log_path, env=None):
    """Run ``command``, its output both shown and kept in ``log_path``."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   env=env, text=True, errors="replace")
        for line in process.stdout:
            log.write(line)
            if " ERROR " in line or " CRITICAL " in line or "Traceback" in line or SUMMARY_RE.search(line):
                sys.stdout.write(line)
        return process.wait()


def pytest_suite(name, paths, tmp, env=None):
    outcome = Outcome(name)
    report = Path(tmp) / f"{name}.xml"
    log_path = LOGS / f"{name}.log"
    command = [str(VENV_PYTHON), "-m", "pytest", "-q", "-rfE", f"--junitxml={report}", *paths]
    print(f"== {name}: pytest {' '.join(paths) or '(pytest.ini)'} (log: {log_path})", flush=True)
    # Its output goes to its log, the lines that say what failed to the screen too: the
    # suites run at the same time, and pytest's progress dots would run into the others' lines.
    with open(log_path, "w") as log:
        code = subprocess.run(command, cwd=REPO, env=env, check=False, stdout=log, stderr=subprocess.STDOUT).returncode
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            print(f"   {name}: {line}", flush=True)
    if not report.exists():
        outcome.fail(f"pytest exited {code} without a report")
        return outcome
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    outcome.passed = total - failures - errors - skipped
    outcome.failed = failures + errors
    if total == 0:
        outcome.fail("no test ran")
    elif code not in (0, 1):
        outcome.fail(f"pytest exited {code}")
    return outcome


def odoo_suite(name, database, tmp, modules, tags, expect_modules, extra_args=(), extra_addons=()):
    """Install ``modules`` on a fresh database and run the tests selected by ``tags``:
    (outcome, log text, the failing tests as 'Class.method')."""
    outcome = Outcome(name)
    dbname = f"test_{name}"
    log_path = LOGS / f"{name}.log"
    command = odoo_command(
        database, dbname, f"--init={modules}", "--test-enable", f"--test-tags={tags}",
        "--stop-after-init", "--log-level=info", f"--http-port={pgcluster.free_port()}",
        "--max-cron-threads=0", *extra_args, data_dir=Path(tmp) / "odoo-data", extra_addons=extra_addons,
    )
    print(f"== {name}: odoo -i {modules} --test-tags {tags} (log: {log_path})", flush=True)
    code = run_logged(command, log_path)
    text = log_path.read_text()
    summary = SUMMARY_RE.findall(text)
    if not summary:
        outcome.fail(f"odoo exited {code} and reported no test result (see {log_path})")
        return outcome, text, set()
    failed, errors, total = (int(n) for n in summary[-1])
    failing = {test for _module, test in FAILURE_RE.findall(text)}
    outcome.passed, outcome.failed = total - failed - errors, failed + errors
    ran_in = set(STARTED_RE.findall(text))
    for module in expect_modules:
        if module not in ran_in:
            outcome.fail(f"no test of {module} ran")
    if code != 0 and not outcome.failed:
        outcome.fail(f"odoo exited {code}")
    return outcome, text, failing


def module_state(database, dbname, module):
    env = dict(os.environ, **database.env())
    result = subprocess.run(
        ["psql", "-X", "-At", "-d", dbname, "-c",
         f"SELECT state FROM ir_module_module WHERE name = '{module}'"],
        env=env, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def addon_suite(database, tmp):
    # test_mail_router installs the seed's models, helpdesk.ticket from OCA's helpdesk_mgmt
    folder, _modules = oca_addons()
    outcome, _text, failing = odoo_suite(
        "addon", database, tmp, "mail_router,test_mail_router", "/mail_router,/test_mail_router",
        expect_modules=("mail_router", "test_mail_router"),
        # the tests make their own records: the demo data of the seed's apps is install time only
        extra_args=("--without-demo=all",), extra_addons=(folder,))
    outcome.problems.extend(f"failed: {test}" for test in sorted(failing))
    return outcome


def expected_failures(path):
    """The lines of ``path``, comments aside."""
    lines = path.read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def expected_compat_failures():
    return set(expected_failures(EXPECTED_COMPAT_FAILURES))


def compat_suite(database, tmp):
    """Odoo's test_mail with mail_router installed: exactly the documented failures."""
    outcome, text, failing = odoo_suite(
        "compat", database, tmp, "mail_router,test_mail", COMPAT_TESTS, expect_modules=("test_mail",))
    if outcome.problems:
        return outcome
    summary_total = outcome.passed + outcome.failed
    expected = expected_compat_failures()
    result = Outcome("compat")
    if summary_total != COMPAT_TEST_COUNT:
        result.fail(f"{summary_total} tests of test_mail ran, expected {COMPAT_TEST_COUNT}")
    state = module_state(database, "test_compat", "mail_router")
    if state != "installed":
        result.fail(f"mail_router is '{state}' in the compat database, not installed")
    for test in sorted(failing - expected):
        result.fail(f"unexpected failure: {test}")
    for test in sorted(expected - failing):
        result.fail(f"expected to fail (README, compat_expected_failures.txt) but passed: {test}")
    print(f"== compat: the failures above ({len(failing & expected)} tests) are the documented differences "
          "(README, scripts/compat_expected_failures.txt)", flush=True)
    result.known_differences = len(failing & expected)
    result.passed = summary_total - len(failing) - len(expected - failing)
    return result


PEER_FAILURE_RE = re.compile(r" ERROR \S+ odoo\.addons\.(\w+)\.[\w.]+: (?:FAIL|ERROR): (?:Subtest )?(\S+)")


def expected_kinds(path):
    """``path`` (peers_ or neighbours_expected_failures.txt): {test: 'stock' or 'difference'},
    a test named '<addon>:<Class>.<method>'."""
    expected = {}
    for line in expected_failures(path):
        kind, test = line.split()
        if kind not in ("stock", "difference"):
            raise ValueError(f"{path.name}: '{kind}' is neither 'stock' nor 'difference'")
        expected[test] = kind
    return expected


ADDON_FAILURE_RE = re.compile(r" ERROR \S+ odoo\.addons\.(\w+)\.[\w.]+: (?:FAIL|ERROR): (?:Subtest )?(\S+)")


def expecting_suite(name, database, tmp, modules, tags, count, expected_file, extra_addons=()):
    """Odoo's or OCA's tests of ``modules`` with mail_router installed: exactly the failures
    listed in ``expected_file``, each failing on stock Odoo here too or a known difference
    of mail_router; the suite fails if an unlisted test fails or a listed one passes."""
    outcome, text, _failing = odoo_suite(
        name, database, tmp, f"mail_router,{modules}", tags, expect_modules=modules.split(","),
        extra_addons=extra_addons)
    if outcome.problems:
        return outcome
    summary_total = outcome.passed + outcome.failed
    failing = {f"{addon}:{test}" for addon, test in ADDON_FAILURE_RE.findall(text)}
    expected = expected_kinds(expected_file)
    result = Outcome(name)
    if summary_total != count:
        result.fail(f"{summary_total} tests of the {name} ran, expected {count}")
    state = module_state(database, f"test_{name}", "mail_router")
    if state != "installed":
        result.fail(f"mail_router is '{state}' in the {name} database, not installed")
    for test in sorted(failing - set(expected)):
        result.fail(f"unexpected failure: {test}")
    for test in sorted(set(expected) - failing):
        result.fail(f"expected to fail ({expected_file.name}: {expected[test]}) but passed: {test}")
    stock = {test for test in failing if expected.get(test) == "stock"}
    differences = {test for test in failing if expected.get(test) == "difference"}
    print(f"== {name}: of the failures above, {len(stock)} tests fail on stock Odoo here too and "
          f"{len(differences)} are documented differences (README, scripts/{expected_file.name})", flush=True)
    result.failing_on_stock, result.known_differences = len(stock), len(differences)
    result.passed = summary_total - len(failing) - len(set(expected) - failing)
    return result


def peers_suite(database, tmp):
    """The mail tests of Odoo's apps that receive mail, with mail_router installed: exactly
    stock's results here, that is the failures listed in peers_expected_failures.txt."""
    return expecting_suite("peers", database, tmp, PEERS_MODULES, PEERS_TESTS, PEERS_TEST_COUNT,
                           EXPECTED_PEERS_FAILURES)


def neighbours_suite(database, tmp):
    """The tests of the OCA neighbours (demo data on) with mail_router loaded: exactly the
    failures listed in neighbours_expected_failures.txt."""
    folder, _modules = oca_addons()
    return expecting_suite("neighbours", database, tmp, NEIGHBOURS_MODULES, NEIGHBOURS_TESTS,
                           NEIGHBOURS_TEST_COUNT, EXPECTED_NEIGHBOURS_FAILURES, extra_addons=(folder,))


def core_suite(_database, tmp):
    return pytest_suite("core", [], tmp)


def system_suite(database, tmp):
    env = dict(os.environ, **database.env(), MAIL_ROUTER_TMP=str(tmp))
    return pytest_suite("system", ["systemtests"], tmp, env=env)


SUITES = {"core": core_suite, "addon": addon_suite, "compat": compat_suite, "peers": peers_suite,
          "neighbours": neighbours_suite, "system": system_suite}
# Suites that run at the same time, each lane in its order: an Odoo test run keeps one
# core busy, the system suite mostly waits on the processes it starts. On 2 cores the
# three lanes take about half the time of one after the other.
LANES = (("core", "addon", "neighbours"), ("compat", "peers"), ("system",))
NEEDS_DATABASE = ("addon", "compat", "peers", "neighbours", "system")
NEEDS_OCA_ADDONS = ("addon", "neighbours")


def database_context(chosen):
    """The PostgreSQL server for the suites that need one: ours, or the one PG* names."""
    if not any(name in NEEDS_DATABASE for name in chosen):
        return contextlib.nullcontext(None)
    database = pgcluster.external_database()
    return pgcluster.cluster() if database is None else contextlib.nullcontext(database)


def run_suite(name, database, tmp):
    started = time.monotonic()
    outcome = SUITES[name](database, tmp)
    print(f"== {name}: {outcome.counts()} ({time.monotonic() - started:.0f} s)", flush=True)
    return outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="*", metavar="SUITE", help=f"any of {', '.join(SUITES)} (default: all)")
    chosen = parser.parse_args().suites or list(SUITES)
    unknown = set(chosen) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(sorted(unknown))}")
    started = time.monotonic()
    LOGS.mkdir(parents=True, exist_ok=True)
    if any(name in NEEDS_OCA_ADDONS for name in chosen):
        oca_addons()  # once, before the lanes that use it start
    with tempfile.TemporaryDirectory(prefix="mail_router_test_") as tmp, database_context(chosen) as database:
        def run_lane(lane):
            return {name: run_suite(name, database, tmp) for name in lane if name in chosen}

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(LANES)) as pool:
            done = {name: outcome for lane in pool.map(run_lane, LANES) for name, outcome in lane.items()}
        outcomes = [done[name] for name in chosen]
    print(f"\n== {len(outcomes)} suites in {time.monotonic() - started:.0f} s")
    for outcome in outcomes:
        print(f"   {outcome.suite:8} {outcome.counts()}")
        for problem in outcome.problems:
            print(f"      - {problem}")
    passed = sum(o.passed for o in outcomes)
    failed = sum(o.failed for o in outcomes)
    known = sum(o.known_differences for o in outcomes)
    if known:
        print(f"({known} known differences: tests of Odoo that fail on purpose, not counted as passed; see README)")
    on_stock = sum(o.failing_on_stock for o in outcomes)
    if on_stock:
        print(f"({on_stock} tests of Odoo fail on stock Odoo on this machine too, not counted as passed; "
              "see scripts/peers_expected_failures.txt, neighbours_expected_failures.txt)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

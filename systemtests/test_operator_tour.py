"""The administrator's story in a real browser against a real Dovecot: Odoo runs the tour
test mail_router/tests/test_fetch_tour.py (tag mail_router_dovecot) in a process of its
own, on a throwaway database, with this Dovecot's coordinates in its environment. The tour
saves its screenshots in .data/screenshots/ (the README's come from there)."""
import json
import os
import re
import subprocess
import time

import pgcluster
from odoo_cli import REPO, odoo_command

TOUR_TAG = "mail_router_dovecot"
TOUR_TEST = "TestFetchTour.test_admin_sets_up_fetching_and_finds_the_reply"
SCREENSHOTS = REPO / ".data" / "screenshots"
LOG = REPO / ".data" / "test-logs" / "system-tour.log"
SUMMARY_RE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
SHOTS = ("fetch_cron_off", "server_test_failed", "server_list", "server_confirmed", "fetch_run_manually",
         "fetched_reply", "settings_quarantine")


def test_admin_sets_up_fetching_in_the_browser(odoo_db, dovecot):
    started = time.time()
    coordinates = {"host": dovecot.host, "port": dovecot.ports.imaps, "plain_port": dovecot.ports.imap,
                   "user": dovecot.user, "password": dovecot.password, "ca_file": str(dovecot.ca_file)}
    command = odoo_command(
        odoo_db.database, odoo_db.name, "--init=mail_router", "--without-demo=all", "--test-enable",
        f"--test-tags={TOUR_TAG}", "--stop-after-init", "--log-level=info", "--max-cron-threads=0",
        f"--http-port={pgcluster.free_port()}", data_dir=odoo_db.data_dir)
    env = dict(os.environ, MAIL_ROUTER_TOUR_DOVECOT=json.dumps(coordinates))
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    log = result.stdout + result.stderr
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text(log)

    assert f"Starting {TOUR_TEST}" in log, f"the tour test did not run (see {LOG})"
    assert not re.search(r" skipped .*TestFetchTour", log), f"the tour test was skipped (see {LOG})"
    assert SUMMARY_RE.findall(log)[-1:] == [("0", "0", "1")], f"the tour test failed (see {LOG})"
    assert result.returncode == 0, f"odoo exited {result.returncode} (see {LOG})"
    stale = [name for name in SHOTS if not (SCREENSHOTS / f"{name}.png").exists()
             or (SCREENSHOTS / f"{name}.png").stat().st_mtime < started]
    assert not stale, f"screenshots not taken: {stale}"

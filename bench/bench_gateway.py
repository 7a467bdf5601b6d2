"""Incoming mail, stock Odoo 18 against mail_router, side by side in one run: `make bench`.

What is measured, and how:

* Fetch. Two databases on one private PostgreSQL cluster (fsync off): "stock" with
  `purchase`, "mail_router" with `purchase` and `mail_router` (and its bridges), the same
  alias domain, catchall, offers@ alias (new RFQs), buyer, vendors and N purchase orders,
  each followed by its vendor and the buyer (notified by email) and holding one message
  the replies answer (bench/child.py `setup`). A real Dovecot (testsupport.dovecot) has one
  user per database; before each run its INBOX is refilled with N new mails (bench/mails.py:
  replies by In-Reply-To, by References only, offers to the alias, some with a PDF). Each
  database fetches over IMAPS through a TCP proxy adding 0 or 20 ms each way, in a process
  of its own: `fetchmail.server._fetch_mails()` (stock's cron entry point), then
  `mail.mail.process_email_queue()` until nothing is outgoing. The databases take turns
  (stock, mail_router, stock, ...). Per run: fetch mails/s, message_process median and p95
  ms per mail (the method wrapped with a timer), SQL queries per mail of the fetch (every
  cursor's execute counted), end to end mails/s (from the fetch's start until the SMTP
  sink, aiosmtpd, has every email notification the run made), peak RSS of the process;
  and whether every mail landed once on the right PO, and every notification arrived.
* Routing (--skip-routing): copies of both databases with 1,000,000 more mail.message
  rows (SQL, ANALYZE after); the median time and queries of routing one reply to an old
  message, a recent one, the RFQ message, and of one that matches nothing: stock's
  message_route (after message_parse, not timed), mail_router's decision (routing.chain.decide)
  and its whole message_route.
* Memory (--skip-memory): one ~25 MB reply (a PDF attachment) through message_process in
  a fresh process per database: peak RSS growth over the RSS just before, against its size.

The repository's addons are copied at the start, so that the whole run measures one
version of the code. The results are printed as tables and written to
bench/results/<timestamp>.json (the children's logs to bench/results/<timestamp>.log).
"""
import argparse
import concurrent.futures
import contextlib
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts"), str(REPO / "bench")]
import live  # noqa: E402
import mails  # noqa: E402
import pgcluster  # noqa: E402
import report  # noqa: E402
from infra import PASSWORD, DelayingProxy, MultiUserDovecot, SmtpSink  # noqa: E402
from odoo_cli import ODOO_SRC, VENV_PYTHON  # noqa: E402

MODULES = {"stock": "purchase", "mail_router": "purchase,mail_router"}
RESULTS = REPO / "bench" / "results"
CHILD = REPO / "bench" / "child.py"
ROUTING_ROWS = 1_000_000
BIG_MAIL_BYTES = 25 * 10**6
SINK_TIMEOUT = 120


def snapshot_addons(workdir):
    """A copy of this repository's addons, and its digest: every step of the run loads
    the same code, however the files are edited meanwhile."""
    target, digest = workdir / "addons", hashlib.sha256()
    for manifest in sorted(REPO.glob("*/__manifest__.py")):
        shutil.copytree(manifest.parent, target / manifest.parent.name,
                        ignore=shutil.ignore_patterns("__pycache__", "tests"))
    for path in sorted(target.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(target)).encode() + b"\0" + path.read_bytes())
    return target, digest.hexdigest()[:16]


class Children:
    """Starts bench/child.py steps on the cluster's databases, keeping their logs."""

    def __init__(self, database, addons, data_dir, workdir, log_file):
        self.database, self.data_dir, self.workdir, self.log_file = database, data_dir, workdir, log_file
        self.addons_path = ",".join(str(path) for path in (ODOO_SRC / "addons", ODOO_SRC / "odoo" / "addons", addons))
        self.started = 0

    def odoo_args(self, dbname):
        return [f"--addons-path={self.addons_path}", f"--data-dir={self.data_dir}", *self.database.odoo_args(),
                f"--database={dbname}", "--log-level=warn", "--no-http", "--max-cron-threads=0"]

    def run(self, step, dbname, job, timeout=3600):
        self.started += 1
        job_file = self.workdir / f"job-{self.started}.json"
        job_file.write_text(json.dumps(job))
        command = [str(VENV_PYTHON), str(CHILD), step, str(job_file), *self.odoo_args(dbname)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        with self.log_file.open("a") as log:
            log.write(f"===== {step} on {dbname} (exit {result.returncode})\n{result.stderr}")
        lines = result.stdout.strip().splitlines()
        if result.returncode or not lines:
            raise SystemExit(f"bench: step {step} on {dbname} failed ({result.returncode}):\n"
                             f"{result.stderr[-6000:]}\n{result.stdout[-2000:]}")
        return json.loads(lines[-1])

    def odoo(self, dbname, *args):
        """odoo-bin on ``dbname`` (to install), as a Popen."""
        command = [str(VENV_PYTHON), str(ODOO_SRC / "odoo-bin"), *self.odoo_args(dbname), f"--db-filter=^{dbname}$",
                   *args]
        with self.log_file.open("a") as log:  # the process keeps its own copy of the file
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def prepare_databases(children, count, keep_dir):
    """Install and set up both databases (at once: 2 cores); their setup results. With
    ``keep_dir``, databases set up by an earlier run with the same count are reused."""
    setups = {}
    for name in MODULES:
        saved = keep_dir and keep_dir / f"setup-{name}.json"
        if saved and saved.exists() and json.loads(saved.read_text())["count"] == count:
            setups[name] = json.loads(saved.read_text())
    todo = [name for name in MODULES if name not in setups]
    if not todo:
        return setups
    started = time.monotonic()
    for name in todo:
        pgcluster.drop_database(children.database, name)
    installs = {name: children.odoo(name, f"--init={MODULES[name]}", "--without-demo=all", "--stop-after-init")
                for name in todo}
    for name, process in installs.items():
        if process.wait():
            raise SystemExit(f"bench: installing {MODULES[name]} on {name} failed: see {children.log_file}")
    print(f"bench: installed {', '.join(todo)} in {time.monotonic() - started:.0f} s", flush=True)
    with concurrent.futures.ThreadPoolExecutor(len(todo)) as pool:
        futures = {name: pool.submit(children.run, "setup", name, {"count": count, "imap_user": name})
                   for name in todo}
        for name, future in futures.items():
            setups[name] = dict(future.result(), count=count)
            if keep_dir:
                (keep_dir / f"setup-{name}.json").write_text(json.dumps(setups[name]))
    return setups


def fetch_runs(children, setups, dovecot, proxy, sinks, latencies, runs_per_side, stamp):
    """Every fetch run, the databases taking turns within each link condition."""
    runs = []
    for latency in latencies:
        proxy.delay = latency / 1000
        for round_number in range(runs_per_side):
            for name in MODULES:
                tag = f"b{stamp}-{latency}ms-{round_number}-{name}"
                run = fetch_once(children, name, setups[name], dovecot, proxy, sinks[name], tag)
                run.update(latency_ms=latency, round=round_number)
                runs.append(run)
                metrics = run["metrics"]
                print(f"bench: {latency:>3} ms  {name:11} {metrics['fetch_mails_per_s']:6.1f} mails/s fetch, "
                      f"{metrics['e2e_mails_per_s']:6.1f} end to end, {metrics['queries_per_mail']:5.1f} SQL/mail, "
                      f"{run['child']['landing']['right']}/{run['child']['mails']} landed, "
                      f"{run['sink_recipients']}/{run['child']['notifications']['emails']} emails", flush=True)
    return runs


def fetch_once(children, name, setup, dovecot, proxy, sink, tag):
    batch = mails.batch(tag, setup["orders"])
    dovecot.refill(name, [raw for _message_id, raw, _expected in batch])
    before, load = sink.recipients(), load_average()
    child = children.run("fetch", name, {
        "smtp_port": sink.port, "imap_port": proxy.port, "imap_password": PASSWORD, "ca_file": str(dovecot.ca_file),
        "expected": {message_id: expected for message_id, _raw, expected in batch}})
    expected_emails = child["notifications"]["emails"]
    arrived = sink.wait_for(before + expected_emails, SINK_TIMEOUT)
    time.sleep(0.2)  # anything beyond what was expected shows in the count
    run = {
        "database": name, "child": child, "unseen_after": dovecot.unseen(name), "load_before": load,
        "sink_recipients": sink.recipients() - before,
        "sent_during_fetch": sink.recipients_until(child["wall_fetched"]) - before,
        # until the queue is drained and the sink has every email, whichever comes last
        "e2e_seconds": max(arrived, child["wall_drained"]) - child["wall_start"] if arrived else None,
    }
    run["metrics"] = report.run_metrics(run)
    run["problems"] = problems(run)
    return run


def problems(run):
    """What makes the run's speed meaningless: mail that did not land, notifications lost."""
    child, found = run["child"], []
    landing, notified = child["landing"], child["notifications"]
    if landing["right"] != child["mails"]:
        found.append(f"{child['mails'] - landing['right']} mail(s) not on their PO: {landing}")
    if notified["mails_notifying_nobody"]:
        found.append(f"{notified['mails_notifying_nobody']} landed mail(s) notified nobody by email")
    if notified["sent"] != notified["emails"]:
        found.append(f"{notified['emails'] - notified['sent']} email notification(s) not sent")
    if run["sink_recipients"] != notified["emails"]:
        found.append(f"the SMTP sink got {run['sink_recipients']} of {notified['emails']} emails")
    if run["unseen_after"]:
        found.append(f"{run['unseen_after']} mail(s) still unread on the IMAP server")
    if child["processed"] != child["mails"]:
        found.append(f"message_process ran {child['processed']} times for {child['mails']} mails")
    return found


def routing_benchmark(children, setups, rows):
    """Copies of both databases with ``rows`` more messages; the routing of four replies."""
    copies = {name: f"{name}_1m" for name in MODULES}
    for name, copy in copies.items():
        pgcluster.drop_database(children.database, copy)
        with pgcluster.admin_connection(children.database) as cursor:
            cursor.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    with concurrent.futures.ThreadPoolExecutor(len(copies)) as pool:
        fills = dict(zip(copies, pool.map(lambda copy: children.run("fill", copy, {"rows": rows}),
                                          copies.values()), strict=True))
    results = {"rows": rows, "fill": fills, "cases": ["old", "recent", "rfq", "none"]}
    for name, copy in copies.items():
        cases = {"old": fills[name]["oldest"], "recent": fills[name]["newest"],
                 "rfq": setups[name]["orders"][-1]["message_id"], "none": "<nothing.here@nowhere.example>"}
        results[name] = children.run("routing", copy, {"cases": cases, "repetitions": 50, "warmup": 5})
        pgcluster.drop_database(children.database, copy)
    return results


def memory_benchmark(children, setups, sinks, workdir, stamp):
    results = {}
    for name in MODULES:
        order = setups[name]["orders"][0]
        message_id = f"<b{stamp}.big.{name}@vendor0.example>"
        raw_file, warmup_file = workdir / f"big-{name}.eml", workdir / f"warmup-{name}.eml"
        raw_file.write_bytes(mails.big_reply(message_id, order, BIG_MAIL_BYTES))
        warmup_file.write_bytes(mails.mail("in_reply_to", 0, f"<b{stamp}.warm.{name}@vendor0.example>", order))
        delivered = sinks[name].delivered()
        child = children.run("memory", name, {
            "raw_file": str(raw_file), "warmup_file": str(warmup_file), "message_id": message_id,
            "smtp_port": sinks[name].port, "imap_port": 993, "imap_password": PASSWORD, "ca_file": ""})
        results[name] = report.memory_metrics(child)
        # Odoo sends an attachment over the mail server's size limit (10 MB) as a link
        results[name]["largest_email_kb"] = sinks[name].largest_since(delivered) / 1024
        if results[name]["stored"] != [["purchase.order", order["id"]]] or not results[name]["attachments"]:
            results[name]["problem"] = (f"the large mail is stored as {results[name]['stored']} with "
                                        f"{results[name]['attachments']} attachment(s), expected on PO {order['id']}")
    return results


def render(results):
    parts = []
    if results.get("runs"):
        parts = [f"## Fetch: {results['count']} mails per run\n",
                 report.fetch_table(report.summary(results["runs"]), results["runs_per_side"]),
                 "\nEach run:\n", report.runs_table(results["runs"])]
        trouble = [f"- run {number} ({run['latency_ms']} ms, {run['database']}): {problem}"
                   for number, run in enumerate(results["runs"], 1) for problem in run["problems"]]
        parts.append("\nChecks: " + ("every mail landed once on its PO, every notification reached the SMTP sink."
                                     if not trouble else "PROBLEMS\n" + "\n".join(trouble)))
    if results.get("live"):
        parts += ["\n## Live delivery: real Odoo server processes and their cron threads\n",
                  report.live_tables(results["live"])]
    if results.get("routing"):
        parts += [f"\n## Routing decision with {results['routing']['rows']:,} more messages stored (median of 50)\n",
                  report.routing_table(results["routing"])]
    if results.get("memory"):
        parts += ["\n## One large mail through message_process\n", report.memory_table(results["memory"])]
        parts += [f"\nPROBLEM: {name}: {memory['problem']}" for name, memory in results["memory"].items()
                  if memory.get("problem")]
    return "\n".join(parts)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300, help="mails per fetch run, and purchase orders (300)")
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 20],
                        help="delays added each way between Odoo and Dovecot, one condition each (0 20)")
    parser.add_argument("--runs", type=int, default=3, help="fetch runs per database and condition (3)")
    parser.add_argument("--skip-routing", action="store_true", help="no routing benchmark on 1M messages")
    parser.add_argument("--routing-rows", type=int, default=ROUTING_ROWS,
                        help=f"mail.message rows added for the routing benchmark ({ROUTING_ROWS:,})")
    parser.add_argument("--skip-memory", action="store_true", help="no 25 MB mail benchmark")
    parser.add_argument("--skip-fetch", action="store_true", help="no fetch runs (one fetch per database)")
    parser.add_argument("--skip-live", action="store_true",
                        help="no live delivery benchmark (push, polling, fairness, drain with several Odoo "
                             "processes and cron threads, 100 mailboxes)")
    parser.add_argument("--live-parts", nargs="+", choices=live.PARTS, default=list(live.PARTS),
                        help="the live benchmark's parts to measure (all)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the cluster and databases in DIR and reuse them next time (for a quick "
                             "re-run; after a change to mail_router's models, remove DIR)")
    args = parser.parse_args()
    if not args.skip_live and args.count < live.ORDERS_NEEDED:
        parser.error(f"the live benchmark needs --count {live.ORDERS_NEEDED} or more (or --skip-live)")
    return args


def main():
    args = parse_args()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    log_file, path = RESULTS / f"{stamp}.log", RESULTS / f"{stamp}.json"
    results = {"started": stamp, "count": args.count, "runs_per_side": args.runs, "latencies_ms": args.latency_ms,
               "machine": machine()}
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mail_router_bench_")))
        keep = args.keep.resolve() if args.keep else None
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
        database = stack.enter_context(pgcluster.cluster(datadir=keep / "pg" if keep else None))
        data_dir = keep / "odoo-data" if keep else workdir / "odoo-data"
        addons, results["addons_digest"] = snapshot_addons(workdir)
        children = Children(database, addons, data_dir, workdir, log_file)
        print(f"bench: addons copied (digest {results['addons_digest']}), logs in {log_file}", flush=True)
        sinks = {name: stack.enter_context(SmtpSink()) for name in MODULES}
        dovecot = stack.enter_context(MultiUserDovecot([*MODULES, *([] if args.skip_live else
                                                                     live.mailbox_users(MODULES))]))
        proxy = stack.enter_context(DelayingProxy(dovecot.ports.imaps))
        setups = prepare_databases(children, args.count, keep)
        if not args.skip_fetch:
            results["runs"] = fetch_runs(children, setups, dovecot, proxy, sinks, args.latency_ms, args.runs, stamp)
            results["summary"] = report.summary(results["runs"])
            path.write_text(json.dumps(results, indent=1, default=str))  # each part saved as soon as measured
        if not args.skip_memory:
            results["memory"] = memory_benchmark(children, setups, sinks, workdir, stamp)
            path.write_text(json.dumps(results, indent=1, default=str))
        if not args.skip_live:
            results["live"] = live.LiveBenchmark(children, setups, dovecot, proxy, sinks, stamp).run(args.live_parts)
            path.write_text(json.dumps(results, indent=1, default=str))
        if not args.skip_routing:
            results["routing"] = routing_benchmark(children, setups, args.routing_rows)
            path.write_text(json.dumps(results, indent=1, default=str))
    print("\n" + render(results))
    print(f"\nbench: results in {path.relative_to(REPO)}, logs in {log_file.relative_to(REPO)}")


def load_average():
    """The machine's 1-minute load average: other work running beside the benchmark."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def machine():
    return {"cpus": os.cpu_count(), "load_at_start": load_average(), "python": sys.version.split()[0]}


if __name__ == "__main__":
    main()

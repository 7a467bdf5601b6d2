"""One benchmark step on one database, in a process of its own (bench_gateway.py starts it):

    python child.py STEP JOB_FILE ODOO_ARGS...

STEP is setup, servers, fetch, fill, routing or memory (the functions below); JOB_FILE holds the
step's parameters as JSON. The result is printed as the last line of stdout, as JSON;
Odoo logs on stderr. Peak RSS is this process's (ru_maxrss), so each step starts fresh.

Measurement only: message_process and the cursor's execute are wrapped here to time
each mail and count queries; nothing in Odoo or mail_router is changed. With
BENCH_PROFILE=PREFIX in the environment, the fetch step's _fetch_mails() runs under cProfile,
its statistics written to PREFIX-<database>.prof (the timings then include the profiler's cost).
"""
import contextlib
import cProfile
import datetime
import email
import email.policy
import gc
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "bench")]
import mails  # noqa: E402
from odoo_cli import ODOO_SRC  # noqa: E402

odoo = None  # imported in main(), once ODOO_SRC is on the path
QUERIES = [0]  # queries run by every cursor of this process


def count_queries():
    """Count every query of every cursor (the fetch's, the lock's, the mail sending's)."""
    original = odoo.sql_db.Cursor.execute

    def execute(self, *args, **kwargs):
        QUERIES[0] += 1
        return original(self, *args, **kwargs)

    odoo.sql_db.Cursor.execute = execute


def time_message_process(env):
    """[(seconds, queries, when it ended, queries run by then)] of each
    mail.thread.message_process call from now on."""
    timings = []
    cls = type(env["mail.thread"])
    original = cls.message_process

    def message_process(self, *args, **kwargs):
        started, queries = time.perf_counter(), QUERIES[0]
        try:
            return original(self, *args, **kwargs)
        finally:
            ended = time.perf_counter()
            timings.append((ended - started, QUERIES[0] - queries, ended, QUERIES[0]))

    cls.message_process = message_process
    return timings


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# ----------------------------------------------------------------------
# setup: the same configuration and records in both databases
# ----------------------------------------------------------------------

def setup(env, job):
    """Alias domain, catchall, the offers@ alias, a buyer, N vendors and their POs, each PO
    followed by its vendor and the buyer (notified by email), with one message to the
    vendor that the replies answer; an outgoing and an incoming mail server."""
    quiet = env(context=dict(env.context, tracking_disable=True, mail_create_nolog=True, no_reset_password=True,
                             mail_create_nosubscribe=True, mail_auto_subscribe_no_notify=True))
    domain = quiet["mail.alias.domain"].create({"name": mails.DOMAIN, "catchall_alias": "catchall",
                                               "bounce_alias": "bounce", "default_from": "notifications"})
    quiet.company.write({"alias_domain_id": domain.id, "email": f"info@{mails.DOMAIN}"})
    buyer = quiet["res.users"].create({
        "name": "Bench Buyer", "login": "bench_buyer", "email": f"buyer@{mails.DOMAIN}",
        "groups_id": [(6, 0, [env.ref("base.group_user").id, env.ref("purchase.group_purchase_user").id])],
    })
    buyer.notification_type = "email"
    unassigned = quiet["res.partner"].create({"name": "Offers to sort", "email": f"offers-vendor@{mails.DOMAIN}"})
    quiet["mail.alias"].create({
        "alias_name": mails.ALIAS.split("@")[0], "alias_domain_id": domain.id, "alias_contact": "everyone",
        "alias_model_id": env["ir.model"]._get_id("purchase.order"),
        # stock needs a vendor to create an RFQ; the buyer follows it and gets the mail
        "alias_defaults": repr({"partner_id": unassigned.id, "user_id": buyer.id}),
    })
    vendors = quiet["res.partner"].create([{"name": f"Vendor {index}", "email": mails.vendor_email(index)}
                                           for index in range(job["count"])])
    orders = quiet["purchase.order"].create([{"partner_id": vendor.id, "user_id": buyer.id} for vendor in vendors])
    orders_out = []
    for order, vendor in zip(orders, vendors, strict=True):
        order.message_subscribe(partner_ids=[vendor.id, buyer.partner_id.id])
        message = order.with_context(mail_notify_force_send=False).message_post(
            body=f"<p>Please quote for {order.name}.</p>", subject=f"{order.name} request for quotation",
            message_type="comment", subtype_xmlid="mail.mt_comment", partner_ids=[vendor.id],
            author_id=buyer.partner_id.id)
        orders_out.append({"id": order.id, "name": order.name, "message_id": message.message_id})
    env["mail.mail"].search([]).unlink()  # the RFQs' notifications: not the benchmark's
    env["ir.mail_server"].create({"name": "SMTP sink", "smtp_host": "127.0.0.1", "smtp_port": 25,
                                  "smtp_encryption": "none"})
    server = {"name": "Bench IMAP", "server_type": "imap", "server": "127.0.0.1", "port": 993, "is_ssl": True,
              "user": job["imap_user"], "password": "-", "state": "done"}
    if "connection_security" in env["fetchmail.server"]._fields:
        server.update(connection_security="ssl", verify_certificate=True)
    env["fetchmail.server"].create(server)
    env.cr.commit()
    return {"orders": orders_out, "buyer_partner_id": buyer.partner_id.id}


def configure(env, job):
    """Point the mail servers at this run's sink and Dovecot (ports change between runs)."""
    env["ir.mail_server"].search([]).write({"smtp_port": job["smtp_port"]})
    server = {"port": job["imap_port"], "password": job["imap_password"]}
    if "ca_file" in env["fetchmail.server"]._fields:
        server["ca_file"] = job["ca_file"]
    env["fetchmail.server"].search([]).write(server)
    env.cr.commit()


def servers(env, job):
    """For the live benchmark (bench/live.py): exactly the mailboxes of job["users"]
    confirmed (one incoming server each, made on first use), the others archived; the
    fetch jobs at job["poll_minutes"], due now or not before tomorrow. Their ids: stock's
    fetch cron, or mail_router's job of each server."""
    env["ir.mail_server"].search([]).write({"smtp_port": job["smtp_port"]})
    Server = env["fetchmail.server"].with_context(active_test=False)
    known = {server.user: server for server in Server.search([])}
    values = {"server_type": "imap", "server": "127.0.0.1", "port": job["imap_port"], "is_ssl": True,
              "password": job["imap_password"], "active": True}
    if "ca_file" in Server._fields:
        values.update(connection_security="ssl", verify_certificate=True, ca_file=job["ca_file"],
                      poll_interval=job["poll_minutes"])
    (Server.browse([server.id for user, server in known.items() if user not in job["users"]])).write(
        {"active": False})
    chosen = Server
    for user in job["users"]:
        server = known.get(user) or Server.create(dict(values, name=f"Bench {user}", user=user))
        server.write(dict(values, state="done"))
        chosen |= server
    nextcall = odoo.fields.Datetime.now() + (datetime.timedelta(0) if job["due"] else datetime.timedelta(days=1))
    stock_cron = env.ref("mail.ir_cron_mail_gateway_action")
    stock_cron.write({"interval_number": job["poll_minutes"], "interval_type": "minutes", "nextcall": nextcall})
    if "mail_router_cron_id" in Server._fields:
        stock_cron.nextcall = odoo.fields.Datetime.now() + datetime.timedelta(days=1)  # only keeps the jobs in step
        crons = chosen.mapped("mail_router_cron_id")
        crons.write({"nextcall": nextcall})
    else:
        crons = stock_cron
    env.cr.commit()
    return {"crons": crons.ids}


# ----------------------------------------------------------------------
# fetch: one fetchmail run, then the mail queue drained
# ----------------------------------------------------------------------

def fetch(env, job):
    configure(env, job)
    env.cr.execute("SELECT COALESCE(max(id), 0) FROM mail_message")
    first_new_message = env.cr.fetchone()[0] + 1
    env.cr.execute("SELECT COALESCE(max(id), 0) FROM purchase_order")
    last_order = env.cr.fetchone()[0]
    env.cr.commit()
    timings = time_message_process(env)

    queries, wall_start, started = QUERIES[0], time.time(), time.perf_counter()
    with profiled(os.environ.get("BENCH_PROFILE"), env.cr.dbname):
        env["fetchmail.server"]._fetch_mails()
    env.cr.commit()
    fetch_seconds, fetch_queries, wall_fetched = time.perf_counter() - started, QUERIES[0] - queries, time.time()
    # imported: the last mail is on its record (stock has sent the notifications of all
    # the others by then, inline; mail_router sends them all after the run)
    import_seconds = (timings[-1][2] - started) if timings else fetch_seconds
    import_queries = (timings[-1][3] - queries) if timings else fetch_queries
    queued = env["mail.mail"].search_count([("state", "=", "outgoing")])

    queries, started = QUERIES[0], time.perf_counter()
    for _ in range(20):
        if not env["mail.mail"].search_count([("state", "=", "outgoing")]):
            break
        env["mail.mail"].process_email_queue()
        env.cr.commit()
    drain_seconds, drain_queries = time.perf_counter() - started, QUERIES[0] - queries

    expected = job["expected"]
    return {
        "mails": len(expected), "processed": len(timings),
        "fetch_seconds": fetch_seconds, "fetch_queries": fetch_queries,
        "import_seconds": import_seconds, "import_queries": import_queries,
        "drain_seconds": drain_seconds, "drain_queries": drain_queries, "queued_after_fetch": queued,
        "wall_start": wall_start, "wall_fetched": wall_fetched, "wall_drained": time.time(),
        "ms_per_mail": [seconds * 1000 for seconds, *_ in timings],
        "queries_per_mail": [queries for _seconds, queries, *_ in timings],
        "landing": landing(env, expected, last_order),
        "notifications": notifications(env, list(expected), first_new_message),
        "peak_rss_mb": peak_rss_mb(),
    }


@contextlib.contextmanager
def profiled(prefix, dbname):
    """cProfile around the block, its statistics in ``prefix``-``dbname``.prof; nothing
    without ``prefix``."""
    if not prefix:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(f"{prefix}-{dbname}.prof")


def landing(env, expected, last_order):
    """How many mails are stored once on the PO they answer (a new RFQ for the alias's)."""
    env.cr.execute("SELECT message_id, model, res_id FROM mail_message WHERE message_id = ANY(%s)", [list(expected)])
    stored = {}
    for message_id, model, res_id in env.cr.fetchall():
        stored.setdefault(message_id, []).append((model, res_id))
    counts = {"right": 0, "wrong": 0, "missing": 0, "duplicated": 0}
    examples = []
    for message_id, order_id in expected.items():
        rows = stored.get(message_id, [])
        if not rows:
            counts["missing"] += 1
        elif len(rows) > 1:
            counts["duplicated"] += 1
        elif rows[0][0] == "purchase.order" and (rows[0][1] == order_id if order_id else rows[0][1] > last_order):
            counts["right"] += 1
            continue
        else:
            counts["wrong"] += 1
        examples.append([message_id, order_id, rows])
    counts["examples"] = examples[:5]
    return counts


def notifications(env, message_ids, first_new_message):
    """Email notifications made for this run's messages: the SMTP sink must get as many."""
    env.cr.execute("""
        SELECT count(*), count(*) FILTER (WHERE notification_status = 'sent')
          FROM mail_notification WHERE notification_type = 'email' AND mail_message_id >= %s""",
                   [first_new_message])
    total, sent = env.cr.fetchone()
    env.cr.execute("""
        SELECT count(*) FROM mail_message m
         WHERE m.message_id = ANY(%s) AND NOT EXISTS (
               SELECT 1 FROM mail_notification n WHERE n.mail_message_id = m.id AND n.notification_type = 'email')""",
                   [message_ids])
    return {"emails": total, "sent": sent, "mails_notifying_nobody": env.cr.fetchone()[0]}


# ----------------------------------------------------------------------
# fill, routing: the routing decision with 1,000,000 messages stored
# ----------------------------------------------------------------------

def fill(env, job):
    """Add job["rows"] mail.message rows with SQL, spread over the POs, dated over the
    past two years (oldest first), then ANALYZE."""
    started = time.perf_counter()
    subtype = env.ref("mail.mt_comment").id
    env.cr.execute("SELECT array_agg(id ORDER BY id) FROM purchase_order")
    orders = env.cr.fetchone()[0]
    env.cr.execute("""
        INSERT INTO mail_message (message_id, model, res_id, message_type, subtype_id, subject, body,
                                  email_from, date, create_date, write_date, create_uid, write_uid)
        SELECT '<old.' || g || '.' || substr(md5(g::text), 1, 12) || '@mx.vendor' || (g %% 10) || '.example>',
               'purchase.order', (%(orders)s::int[])[1 + g %% cardinality(%(orders)s::int[])], 'email',
               %(subtype)s, 'Earlier message ' || g, '<p>Earlier message.</p>',
               'Vendor <vendor' || (g %% 10) || '@vendor' || (g %% 10) || '.example>',
               stamp, stamp, stamp, 1, 1
          FROM generate_series(1, %(rows)s) g,
               LATERAL (SELECT now() at time zone 'UTC' - (%(rows)s - g) * interval '1 minute' AS stamp) t""",
                   {"orders": orders, "subtype": subtype, "rows": job["rows"]})
    env.cr.commit()
    env.cr.execute("ANALYZE mail_message")
    env.cr.execute("SELECT count(*) FROM mail_message")
    total = env.cr.fetchone()[0]
    oldest, newest = (_generated_message_id(env, order) for order in ("ASC", "DESC"))
    env.cr.commit()
    return {"seconds": time.perf_counter() - started, "messages": total, "oldest": oldest, "newest": newest}


def _generated_message_id(env, order):
    env.cr.execute(f"SELECT message_id FROM mail_message WHERE message_id LIKE %s ORDER BY id {order} LIMIT 1",
                   ["<old.%"])
    return env.cr.fetchone()[0]


def mail_router_decision(env, raw):
    """(prepare, decide) for mail_router's routing decision alone, as message_route makes
    it (mail_router/models/mail_thread.py): adapt here when that API changes."""
    from odoo.addons.mail_router.models.routing_lookup import RoutingLookup
    from odoo.addons.mail_router.routing.chain import decide
    from odoo.addons.mail_router.routing.incoming import read_mail

    thread = env["mail.thread"]
    _message, mail, _unreadable = read_mail(raw)

    def prepare():
        env.invalidate_all()
        return ()

    def decision():
        return decide(mail, RoutingLookup(env), thread._mail_router_codec(), thread._mail_router_config(False)).stage

    return prepare, decision


def message_route(env, raw):
    """(prepare, route) for mail.thread.message_route after message_parse (not timed): stock's
    routing, and mail_router's whole message_route for comparison. None when nothing routes."""
    thread = env["mail.thread"]

    def prepare():
        env.invalidate_all()
        message = email.message_from_bytes(raw, policy=email.policy.SMTP)
        return message, thread.message_parse(message)

    def route(message, msg_dict):
        try:
            return [route[:2] for route in thread.message_route(message, msg_dict)]
        except ValueError:
            return None

    return prepare, route


def repeat(prepare, work, repetitions, warmup):
    """(median ms, queries per call, result) over ``repetitions`` calls after ``warmup``."""
    seconds, queries = [], []
    for index in range(warmup + repetitions):
        args = prepare()
        before, started = QUERIES[0], time.perf_counter()
        result = work(*args)
        if index >= warmup:
            seconds.append(time.perf_counter() - started)
            queries.append(QUERIES[0] - before)
    return {"median_ms": statistics.median(seconds) * 1000, "p95_ms": percentile(seconds, 0.95) * 1000,
            "queries": statistics.median(queries), "max_queries": max(queries), "result": repr(result)}


def routing(env, job):
    results = {}
    ours = hasattr(env["mail.thread"], "_mail_router_config")
    for case, in_reply_to in job["cases"].items():
        raw = mails.routing_mail(in_reply_to)
        results[case] = {"message_route": repeat(*message_route(env, raw), job["repetitions"], job["warmup"])}
        if ours:
            results[case]["decision"] = repeat(*mail_router_decision(env, raw), job["repetitions"], job["warmup"])
    if ours:
        config = env["mail.thread"]._mail_router_config
        results["config_lookup"] = repeat(lambda: (), lambda: config(False) and None, job["repetitions"], job["warmup"])
    env.cr.rollback()
    return results


# ----------------------------------------------------------------------
# memory: one large mail through message_process
# ----------------------------------------------------------------------

def memory(env, job):
    """Peak RSS growth of message_process on one large mail (and of the commit, which
    sends its notification with the attachment), over the RSS just before."""
    configure(env, job)
    thread = env["mail.thread"]
    thread.message_process(False, Path(job["warmup_file"]).read_bytes())  # load the code paths first
    env.cr.commit()
    raw = Path(job["raw_file"]).read_bytes()
    gc.collect()
    before, peak_before = current_rss_mb(), peak_rss_mb()
    started = time.perf_counter()
    thread.message_process(False, raw)
    processed, peak_processed = time.perf_counter() - started, peak_rss_mb()
    env.cr.commit()  # posts the notification: built and sent after the commit
    committed, peak_committed = time.perf_counter() - started, peak_rss_mb()
    env.cr.execute("SELECT model, res_id FROM mail_message WHERE message_id = %s", [job["message_id"]])
    stored = env.cr.fetchall()
    env.cr.execute("""SELECT count(*), COALESCE(sum(a.file_size), 0)
                        FROM message_attachment_rel rel JOIN ir_attachment a ON a.id = rel.attachment_id
                        JOIN mail_message m ON m.id = rel.message_id WHERE m.message_id = %s""", [job["message_id"]])
    attachments, attachment_bytes = env.cr.fetchone()
    return {"raw_mb": len(raw) / 2**20, "rss_before_mb": before, "peak_before_mb": peak_before,
            "peak_after_process_mb": peak_processed, "peak_after_commit_mb": peak_committed,
            "process_seconds": processed, "commit_seconds": committed - processed,
            "stored": stored, "attachments": attachments, "attachment_mb": attachment_bytes / 2**20}


STEPS = {"setup": setup, "servers": servers, "fetch": fetch, "fill": fill, "routing": routing, "memory": memory}


def main():
    global odoo  # noqa: PLW0603 (imported late, once ODOO_SRC is on the path)
    step, job_file, odoo_args = sys.argv[1], sys.argv[2], sys.argv[3:]
    sys.path.insert(0, str(ODOO_SRC))
    import odoo as odoo_module

    odoo = odoo_module
    odoo.tools.config.parse_config(odoo_args, setup_logging=True)
    job = json.loads(Path(job_file).read_text())
    count_queries()
    registry = odoo.modules.registry.Registry(odoo.tools.config["db_name"])
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        result = STEPS[step](env, job)
    result.setdefault("peak_rss_mb", peak_rss_mb())
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

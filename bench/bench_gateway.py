"""Incoming mail, stock Odoo 18 against mail_router, in one run: `make bench`.

Two fresh databases on a private PostgreSQL cluster, one with `mail` only (stock),
one with `mail_router`. Each gets the same alias domain, alias and records, then
processes the same mails through `mail.thread.message_process`, committing after
each as the fetcher does, taking turns mail by mail: replies by In-Reply-To, replies
by References, and new records through an alias. Prints milliseconds per mail and the ratio
mail_router / stock (below 1: faster than stock).
"""
import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import pgcluster
from odoo_cli import ODOO_SRC, addons_path, odoo_command

KINDS = ("in_reply_to", "references", "alias")


def mail(kind, index, thread_message_id):
    message = EmailMessage()
    message["From"] = f"Vendor {index} <vendor{index}@vendor.example>"
    message["To"] = "catchall@company.example" if kind != "alias" else "orders@company.example"
    message["Subject"] = f"{kind} {index}"
    message["Message-ID"] = f"<bench-{kind}-{index}@vendor.example>"
    if kind == "in_reply_to":
        message["In-Reply-To"] = thread_message_id
    if kind == "references":
        message["References"] = " ".join([f"<old-{n}@vendor.example>" for n in range(5)] + [thread_message_id])
    message.set_content(f"Body of {kind} {index}.\n" * 20)
    return message.as_bytes()


def prepare(env):
    """The same configuration and records in both databases; the id to reply to."""
    domain = env["mail.alias.domain"].create({"name": "company.example", "catchall_alias": "catchall",
                                             "bounce_alias": "bounce", "default_from": "notifications"})
    env.company.alias_domain_id = domain
    env["mail.alias"].create({"alias_name": "orders", "alias_domain_id": domain.id, "alias_contact": "everyone",
                              "alias_model_id": env["ir.model"]._get_id("res.partner")})
    partner = env["res.partner"].create({"name": "PO0001 vendor", "email": "vendor@vendor.example"})
    rfq = partner.message_post(body="RFQ", message_type="comment", subtype_xmlid="mail.mt_comment")
    env.cr.commit()
    return rfq.message_id


def run(odoo, dbnames, count):
    """{dbname: {kind: [seconds per mail]}}: the databases take turns, mail by mail, so
    that whatever else the machine does weighs on both alike."""
    with contextlib.ExitStack() as stack:
        envs = {}
        for dbname in dbnames:
            cr = stack.enter_context(odoo.modules.registry.Registry(dbname).cursor())
            envs[dbname] = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        thread_message_ids = {dbname: prepare(env) for dbname, env in envs.items()}
        timings = {dbname: {kind: [] for kind in KINDS} for dbname in dbnames}
        for index in range(count):
            for kind in KINDS:
                for dbname in dbnames[::1 if index % 2 else -1]:
                    env = envs[dbname]
                    raw = mail(kind, index, thread_message_ids[dbname])
                    started = time.perf_counter()
                    env["mail.thread"].message_process(False, raw)
                    env.cr.commit()
                    timings[dbname][kind].append(time.perf_counter() - started)
        return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100, help="mails of each kind (default 100)")
    count = parser.parse_args().count
    sys.path.insert(0, str(ODOO_SRC))
    import odoo  # importable only once ODOO_SRC is on the path

    with tempfile.TemporaryDirectory(prefix="mail_router_bench_") as tmp, pgcluster.cluster() as database:
        odoo.tools.config.parse_config([f"--addons-path={addons_path()}", f"--data-dir={tmp}",
                                        *database.odoo_args(), "--log-level=warn"], setup_logging=False)
        for name, modules in (("stock", "mail"), ("mail_router", "mail_router")):
            subprocess.run(odoo_command(database, f"bench_{name}", f"--init={modules}", "--without-demo=all",
                                        "--stop-after-init", "--log-level=warn", data_dir=tmp), check=True)
        timings = run(odoo, ["bench_stock", "bench_mail_router"], count)
        results = {name: timings[f"bench_{name}"] for name in ("stock", "mail_router")}
    print(f"\n{count} mails of each kind, median ms per mail (committed each)")
    print(f"{'kind':12} {'stock':>8} {'mail_router':>12} {'ratio':>7}")
    for kind in KINDS:
        stock, ours = (statistics.median(results[name][kind]) * 1000 for name in ("stock", "mail_router"))
        print(f"{kind:12} {stock:8.2f} {ours:12.2f} {ours / stock:7.2f}")


if __name__ == "__main__":
    main()

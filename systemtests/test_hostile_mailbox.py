"""Hostile mail in a real mailbox, fetched as the cron does: each bad mail is kept, the
replies behind it land, nothing is forged onto a record; and a portal user calling the
gateway over XML-RPC can neither post nor mark a mail as processed."""
import socket
import subprocess
import time
import uuid
import xmlrpc.client

import pgcluster
import pytest
from odoo_cli import odoo_command
from test_fetchmail import fetch, make_server

DOMAIN = "hostile.example"
HTTP_START_SECONDS = 60


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def setup(mail_router_db):
    """An alias domain, an alias 'requests' creating contacts, and a vendor with our RFQ
    on its chatter: (vendor id, the RFQ's Message-ID)."""
    with mail_router_db.env() as env:
        domain = env["mail.alias.domain"].search([("name", "=", DOMAIN)]) or env["mail.alias.domain"].create(
            {"name": DOMAIN})
        env.company.alias_domain_id = domain
        env["mail.alias"].create({"alias_name": "requests", "alias_domain_id": domain.id,
                                  "alias_model_id": env["ir.model"]._get_id("res.partner"),
                                  "alias_contact": "everyone"})
        vendor = env["res.partner"].create({"name": "Ann Vendor", "email": "ann@vendor.example"})
        rfq = vendor.message_post(body="Our RFQ", message_type="comment", subtype_xmlid="mail.mt_comment")
        env.cr.commit()
        return vendor.id, rfq.message_id


def mail(headers, body=b"Hello.\r\n"):
    return headers.replace(b"\n", b"\r\n") + b"\r\n" + body


def reply(tag, n, rfq):
    return mail(f"From: Ann Vendor <ann@vendor.example>\nTo: catchall@{DOMAIN}\nSubject: Re: RFQ {n}\n"
                f"Message-ID: <{tag}-reply-{n}@vendor.example>\nIn-Reply-To: {rfq}\n".encode())


def hostile(tag, vendor_id):
    """(name, raw bytes, the stage it must get) of mail nobody writes on purpose."""
    nested = (b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
                       for n in range(3000))  # past Python's recursion limit
              + b"Content-Type: text/plain\r\n\r\ninside\r\n")
    to = f"To: requests@{DOMAIN}"
    return [
        ("deep MIME", f"From: x@spam.example\r\n{to}\r\nSubject: dolls {tag}\r\n"
                      f"Message-ID: <{tag}-deep@spam.example>\r\n".encode() + nested, "quarantine"),
        ("NUL", mail(f"From: Nul\0 <x@spam.example>\n{to}\nSubject: NUL\0 {tag}\n"
                     f"Message-ID: <{tag}-nul@spam.example>\n".encode(), b"body\0\r\n"), "alias"),
        ("surrogate", mail(f"From: x@spam.example\n{to}\nSubject: =?unicode-escape?q?\\ud800_{tag}?=\n"
                           f"Message-ID: <{tag}-surrogate@spam.example>\n".encode()), "alias"),
        ("8-bit", mail(f"From: x@spam.example\n{to}\nMessage-ID: <{tag}-8bit@spam.example>\n".encode()
                       + f"Subject: {tag} ".encode() + b"caf\xe9 \xff\xfe\n"), "alias"),
        ("huge Message-ID", mail(f"From: x@spam.example\n{to}\nSubject: long id {tag}\n"
                                 f"Message-ID: <{'x' * 10_000}-{tag}@spam.example>\n".encode()), "alias"),
        ("wildcard sender", mail(f"From: %@%\nTo: requests+{vendor_id}@{DOMAIN}\nSubject: forged {tag}\n"
                                 f"Message-ID: <{tag}-wildcard@spam.example>\n".encode()), "quarantine"),
    ]


def test_bad_mail_is_kept_and_the_replies_behind_it_land(mail_router_db, dovecot, setup, tag):
    vendor_id, rfq = setup
    bad = hostile(tag, vendor_id)
    raws = [reply(tag, 0, rfq), *(raw for _name, raw, _stage in bad), reply(tag, 1, rfq)]
    uids = dovecot.append_all("INBOX", raws)
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot, batch_size=3)
    fetch(mail_router_db, server_id)
    with mail_router_db.env() as env:
        vendor = env["res.partner"].browse(vendor_id)
        assert {"Re: RFQ 0", "Re: RFQ 1"} <= set(vendor.message_ids.mapped("subject"))
        assert not vendor.message_ids.filtered(lambda m: tag in (m.subject or "")), "nothing forged onto the vendor"
        logs = env["mail.router.log"].search([("fetchmail_server_id", "=", server_id)], order="id")
        assert len(logs) == len(raws), "one decision per mail, in the mailbox's order"
        for (name, raw, stage), log in zip(bad, logs[1:-1], strict=True):
            assert log.stage == stage, f"{name}: {log.stage} ({log.reason})"
            if stage == "quarantine":
                entry = env["mail.router.quarantine"].search([("message_id", "=", log.message_id)])
                assert entry.raw_bytes() == raw, f"{name}: not kept byte for byte"
            else:
                assert log.mail_message_id.model == "res.partner", f"{name}: not posted"
    assert all("\\Seen" in dovecot.flags("INBOX")[uid] for uid in uids), "every mail kept, so every mail flagged"


def test_list_relayed_request_creates_its_record(mail_router_db, dovecot, setup, tag):
    dovecot.append("INBOX", mail(
        f"From: Bob Buyer <bob-{tag}@customer.example>\nTo: requests@{DOMAIN}\nSubject: 40 chairs {tag}\n"
        f"Message-ID: <{tag}-list@customer.example>\nPrecedence: list\nList-Id: <requests.{DOMAIN}>\n"
        f"Sender: requests@groups.example\n".encode()))
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot)
    fetch(mail_router_db, server_id)
    [(stage,)] = mail_router_db.query("SELECT stage FROM mail_router_log WHERE message_id = %s",
                                      [f"<{tag}-list@customer.example>"])
    assert stage == "alias"
    assert mail_router_db.query("SELECT count(*) FROM res_partner WHERE name = %s", [f"40 chairs {tag}"]) == [(1,)]


@pytest.fixture(scope="module")
def odoo_http(mail_router_db, setup):
    """The database served over HTTP, as users reach it: its XML-RPC URL."""
    port = pgcluster.free_port()
    command = odoo_command(mail_router_db.database, mail_router_db.name, f"--http-port={port}",
                           "--http-interface=127.0.0.1", "--max-cron-threads=0", "--log-level=warn",
                           data_dir=mail_router_db.data_dir)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + HTTP_START_SECONDS
    try:
        while True:
            assert process.poll() is None, f"odoo exited {process.returncode}"
            assert time.monotonic() < deadline, f"odoo did not listen on {port} within {HTTP_START_SECONDS} s"
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/xmlrpc/2"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_portal_user_over_rpc_cannot_mark_a_mail_processed(mail_router_db, dovecot, odoo_http, tag):
    login, password = f"portal-{tag}", f"pw-{tag}-long-enough"
    with mail_router_db.env() as env:
        env["res.users"].create({"name": "Portal", "login": login, "password": password,
                                 "groups_id": [(6, 0, [env.ref("base.group_portal").id])]})
        env.cr.commit()
    raw = mail(f"From: Carl <carl-{tag}@customer.example>\nTo: requests@{DOMAIN}\nSubject: real {tag}\n"
               f"Message-ID: <{tag}-real@customer.example>\n".encode())
    uid = xmlrpc.client.ServerProxy(f"{odoo_http}/common").authenticate(mail_router_db.name, login, password, {})
    assert uid
    models = xmlrpc.client.ServerProxy(f"{odoo_http}/object", allow_none=True)
    with pytest.raises(xmlrpc.client.Fault, match="Only the mail gateway"):
        models.execute_kw(mail_router_db.name, uid, password, "mail.thread", "message_process",
                          [False, raw.decode()])
    assert mail_router_db.query("SELECT count(*) FROM mail_router_ledger WHERE message_id = %s",
                                [f"<{tag}-real@customer.example>"]) == [(0,)]
    dovecot.append("INBOX", raw)
    with mail_router_db.env() as env:
        server_id = make_server(env, dovecot)
    fetch(mail_router_db, server_id)
    assert mail_router_db.query("SELECT count(*) FROM res_partner WHERE name = %s", [f"real {tag}"]) == [(1,)]

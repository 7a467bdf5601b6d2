"""Outlook and Gmail servers over OAuth2, as Odoo's microsoft_outlook and google_gmail
make them, against a Dovecot that checks each Bearer token with a token service
(testsupport.oauth2): no stand-in for XOAUTH2, for the tokens or for the refresh.

Microsoft's token endpoint is found through microsoft_outlook's system parameter
``microsoft_outlook.endpoint``; Google's is written in google_gmail's code, so the token
service answers for oauth2.googleapis.com as an HTTPS proxy (HTTPS_PROXY and
REQUESTS_CA_BUNDLE, which requests reads at each request: set in this process for the
in-process tests, in the Odoo server's environment for the others). Nothing of Odoo is
patched.

A server starts with the access token Odoo holds expired (at the provider too): each way
of fetching must renew it first. A token failure must be a sentence saying what to do, a
failed fetch (counted, alerting), and the mail must stay unread on the server."""
import json
import threading
import time
import urllib.request
import uuid

import pytest
from odoo_servers import running, wait_for
from test_fetchmail import message, posted

from conftest import OdooDatabase, OdooEnv
from testsupport.dovecot import Dovecot
from testsupport.oauth2 import (
    GOOGLE,
    GOOGLE_HOSTS,
    GOOGLE_MAIL_SCOPE,
    MICROSOFT,
    MICROSOFT_SMTP_SCOPE,
    OFFLINE_ACCESS,
    TokenService,
)

MODULES = "mail_router,microsoft_outlook,google_gmail"
PARTNER = "res.partner"
POLL_MINUTES = 60  # polling that never comes within a test
# server type: (the provider's name in the token service, the modules' token fields' prefix)
PROVIDERS = {"outlook": (MICROSOFT, "microsoft_outlook"), "gmail": (GOOGLE, "google_gmail")}
SERVER_TYPES = sorted(PROVIDERS)


@pytest.fixture(scope="module")
def oauth_db(database, odoo_in_process, tmp_path_factory):
    """A committed database with mail_router and both OAuth2 modules installed."""
    odoo_database = OdooDatabase(database, f"sys_{uuid.uuid4().hex[:10]}", tmp_path_factory.mktemp("odoo-data"))
    odoo_database.odoo(f"--init={MODULES}", "--without-demo=all", "--stop-after-init")
    odoo_database.env = OdooEnv(odoo_in_process, odoo_database.name)
    with odoo_database.env() as env:
        env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 10000)
    yield odoo_database
    odoo_in_process.modules.registry.Registry.delete(odoo_database.name)
    odoo_database.drop()


@pytest.fixture
def tokens(oauth_db, monkeypatch):
    """The token service, both Odoo modules pointed at it (Google's host through the proxy,
    for this process's requests), and no server of an earlier test left active."""
    with TokenService(intercept=GOOGLE_HOSTS) as service:
        for name, value in service.proxy_environment().items():
            monkeypatch.setenv(name, value)
        with oauth_db.env() as env:
            env["fetchmail.server"].search([]).active = False
            parameters = env["ir.config_parameter"]
            parameters.set_param("microsoft_outlook.endpoint", service.microsoft_endpoint)
            for prefix in ("microsoft_outlook", "google_gmail"):
                parameters.set_param(f"{prefix}_client_id", service.client_id)
                parameters.set_param(f"{prefix}_client_secret", service.client_secret)
        yield service


@pytest.fixture(params=SERVER_TYPES)
def server_type(request):
    return request.param


@pytest.fixture
def mailbox(tokens, server_type):
    """A Dovecot checking each token with ``tokens`` for the provider's IMAP scope."""
    scope = {"outlook": None, "gmail": GOOGLE_MAIL_SCOPE}[server_type]
    options = {"oauth2_scope": scope} if scope else {}
    with Dovecot(oauth2=tokens.introspection_url, **options) as server:
        yield server


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:8]


def make_oauth_server(db, tokens, dovecot, server_type, scopes=None, **values):
    """An Outlook or Gmail server on ``dovecot``, connected (a refresh token from the
    account's consent to ``scopes``), holding an access token expired for Odoo and for the
    provider: (server id, its refresh token)."""
    provider, prefix = PROVIDERS[server_type]
    refresh_token = tokens.consent(dovecot.user, provider, scopes)
    stale = tokens.access_token(refresh_token)
    tokens.expire_access_tokens(dovecot.user)
    with db.env() as env:
        server = env["fetchmail.server"].create({
            "name": f"{server_type} {uuid.uuid4().hex[:6]}",
            "server_type": server_type,
            "server": dovecot.host,
            "port": dovecot.ports.imaps,
            "connection_security": "ssl",
            "ca_file": str(dovecot.ca_file),
            "user": dovecot.user,
            "object_id": env["ir.model"]._get_id(PARTNER),
            "poll_interval": POLL_MINUTES,
            f"{prefix}_refresh_token": refresh_token,
            f"{prefix}_access_token": stale,
            f"{prefix}_access_token_expiration": int(time.time()) - 60,
            **values,
        })
        return server.id, refresh_token


def access_token(db, server_id, server_type):
    prefix = PROVIDERS[server_type][1]
    return db.query(f"SELECT {prefix}_access_token FROM fetchmail_server WHERE id = %s", [server_id])[0][0]


def issued(tokens):
    """The access tokens the service issued on a refresh, in order."""
    return [call.access_token for call in tokens.calls
            if call.endpoint == "token" and call.grant_type == "refresh_token" and call.error is None]


def assert_renewed_then_checked(db, tokens, dovecot, server_id, server_type, refreshes=1):
    """Odoo renewed the token (``refreshes`` times), keeps the one issued last, and Dovecot
    let it in after asking the provider."""
    assert len(issued(tokens)) == refreshes
    assert tokens.count("token", ok=False) == 0
    assert access_token(db, server_id, server_type) == issued(tokens)[-1]
    assert tokens.count("introspect", account=dovecot.user, ok=True) >= 1


def confirm(db, server_id):
    with db.env() as env:
        return env["fetchmail.server"].browse(server_id).button_confirm_login()


def run_job(db, server_id):
    """What the server's fetch job (its ir.cron) runs."""
    with db.env() as env:
        env["fetchmail.server"]._mail_router_run_job(server_id)


def health(db, server_id):
    with db.env() as env:
        server = env["fetchmail.server"].browse(server_id)
        return server.last_error or "", server.consecutive_failures


# ----------------------------------------------------------------------------------------
# An expired access token renewed first, then a login Dovecot checks
# ----------------------------------------------------------------------------------------

def test_test_and_confirm_renews_the_token_and_logs_in(oauth_db, tokens, mailbox, server_type, tag):
    mailbox.append("INBOX", message(tag, 1))
    server_id, _refresh = make_oauth_server(oauth_db, tokens, mailbox, server_type)
    said = confirm(oauth_db, server_id)
    assert said["params"]["type"] == "success", said
    assert "1 messages in folder INBOX" in said["params"]["message"]
    assert_renewed_then_checked(oauth_db, tokens, mailbox, server_id, server_type)
    assert oauth_db.query("SELECT state FROM fetchmail_server WHERE id = %s", [server_id]) == [("done",)]
    assert mailbox.flags("INBOX") == {1: set()}, "Test & Confirm reads nothing"


def test_the_fetch_job_renews_the_token_and_imports_the_mail(oauth_db, tokens, mailbox, server_type, tag):
    uids = mailbox.append_all("INBOX", [message(tag, 1), message(tag, 2)])
    server_id, _refresh = make_oauth_server(oauth_db, tokens, mailbox, server_type, state="done")
    with oauth_db.env() as env:
        job = env["fetchmail.server"].browse(server_id).mail_router_cron_id
        assert job.active and job.code == f"model._mail_router_run_job({server_id})"
    run_job(oauth_db, server_id)
    assert posted(oauth_db, tag) == {f"<{tag}-1@example.com>": 1, f"<{tag}-2@example.com>": 1}
    assert mailbox.flags("INBOX") == {uid: {"\\Seen"} for uid in uids}
    assert_renewed_then_checked(oauth_db, tokens, mailbox, server_id, server_type)
    assert health(oauth_db, server_id) == ("", 0)
    run_job(oauth_db, server_id)  # the token is still valid: used again, not renewed
    assert len(issued(tokens)) == 1


def test_fetch_now_renews_the_token_and_says_what_it_fetched(oauth_db, tokens, mailbox, server_type, tag):
    mailbox.append("INBOX", message(tag, 1))
    server_id, _refresh = make_oauth_server(oauth_db, tokens, mailbox, server_type, state="done")
    with oauth_db.env() as env:
        said = env["fetchmail.server"].browse(server_id).action_fetch_now()
    assert said["params"]["message"] == "1 fetched (1 routed, 0 quarantined), 0 left on the server.", said
    assert posted(oauth_db, tag) == {f"<{tag}-1@example.com>": 1}
    assert mailbox.flags("INBOX") == {1: {"\\Seen"}}
    assert_renewed_then_checked(oauth_db, tokens, mailbox, server_id, server_type)


# ----------------------------------------------------------------------------------------
# Token failures: a sentence saying what to do, a failed fetch, the mail left unread
# ----------------------------------------------------------------------------------------

def revoked(tokens, refresh_token, mailbox):
    tokens.revoke(refresh_token)


def disabled(tokens, refresh_token, mailbox):
    tokens.disable(mailbox.user)


def unreachable(tokens, refresh_token, mailbox):
    tokens.stop()


FAILURES = {
    # failure: (what happens, scopes consented, {server type: how the Last Error begins})
    "revoked": (revoked, None, {
        "outlook": "Microsoft refused to renew the access token of the Outlook account {user}: its consent was "
                   "revoked or has expired (invalid_grant: AADSTS70008: The provided authorization code or "
                   "refresh token has expired due to inactivity.",
        "gmail": "Google refused to renew the access token of the Gmail account {user}: its consent was revoked "
                 "or has expired (invalid_grant: Token has been expired or revoked.). The Gmail account must be "
                 "connected again: press \"Connect your Gmail account\" on this server's form (the gear next to "
                 "\"Gmail Token Valid\") and sign in as {user}.",
    }),
    "scope missing": (None, {"outlook": (OFFLINE_ACCESS, MICROSOFT_SMTP_SCOPE), "gmail": ("openid", "email")}, {
        "outlook": "The consent {user} gave does not let Odoo read mail over IMAP: Microsoft granted "
                   "https://outlook.office.com/SMTP.Send, without https://outlook.office.com/IMAP.AccessAsUser.All, "
                   "so {address} refused the login (",
        "gmail": "The consent {user} gave does not let Odoo read mail over IMAP: Google granted openid email, "
                 "without https://mail.google.com/, so {address} refused the login (",
    }),
    "account may not read mail": (disabled, None, {
        "outlook": "{address} refused the Outlook access token of {user} (",
        "gmail": "{address} refused the Gmail access token of {user} (",
    }),
    "provider unreachable": (unreachable, None, {
        "outlook": "The access token of {user} cannot be renewed: Microsoft's token endpoint cannot be reached "
                   "(Connection refused). Check that this Odoo server reaches "
                   "https://login.microsoftonline.com/common/oauth2/v2.0/token over HTTPS",
        "gmail": "The access token of {user} cannot be renewed: Google's token endpoint cannot be reached "
                 "(through the proxy: Connection refused). Check that this Odoo server reaches "
                 "https://oauth2.googleapis.com/token over HTTPS",
    }),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_token_failure_says_what_to_do_counts_and_leaves_the_mail(oauth_db, tokens, mailbox, server_type,
                                                                    failure, tag):
    make_it_fail, scopes, beginnings = FAILURES[failure]
    uid = mailbox.append("INBOX", message(tag, 1))
    with oauth_db.env() as env:
        env["ir.config_parameter"].set_param("mail_router.fetch_failure_alert_threshold", 2)
    server_id, refresh_token = make_oauth_server(oauth_db, tokens, mailbox, server_type,
                                                 (scopes or {}).get(server_type), state="done")
    if make_it_fail:
        make_it_fail(tokens, refresh_token, mailbox)
    beginning = beginnings[server_type].format(user=mailbox.user,
                                               address=f"{mailbox.host}:{mailbox.ports.imaps}")

    said = confirm(oauth_db, server_id)  # Test & Confirm: the dialog shows the Last Error
    assert said["res_id"] == server_id and said["target"] == "new"
    last_error, failures = health(oauth_db, server_id)
    assert last_error.startswith(f"Test & Confirm: {beginning}"), last_error
    assert failures == 0, "a test is not a fetch"

    run_job(oauth_db, server_id)
    with oauth_db.env() as env:
        said = env["fetchmail.server"].browse(server_id).action_fetch_now()
    assert said["params"]["type"] == "danger" and said["params"]["message"].startswith(f"failed: {beginning}")
    last_error, failures = health(oauth_db, server_id)
    assert last_error.startswith(beginning), last_error
    assert "waits, unread, on the server" in last_error
    assert failures == 2
    with oauth_db.env() as env:
        server = env["fetchmail.server"].browse(server_id)
        alerts = env["mail.mail"].search([("subject", "=", f"Incoming mail server {server.name} is failing")])
        assert len(alerts) == 1 and beginning.split(" (")[0] in alerts.body_html
    assert mailbox.flags("INBOX") == {uid: set()}, "the mail stays unread on the server"
    assert posted(oauth_db, tag) == {}


def test_the_mail_comes_once_the_account_is_connected_again(oauth_db, tokens, mailbox, server_type, tag):
    uid = mailbox.append("INBOX", message(tag, 1))
    server_id, refresh_token = make_oauth_server(oauth_db, tokens, mailbox, server_type, state="done")
    tokens.revoke(refresh_token)
    run_job(oauth_db, server_id)
    assert health(oauth_db, server_id)[1] == 1 and mailbox.flags("INBOX") == {uid: set()}
    provider, prefix = PROVIDERS[server_type]
    with oauth_db.env() as env:  # what the modules' Connect callback stores
        env["fetchmail.server"].browse(server_id).write({
            f"{prefix}_refresh_token": tokens.consent(mailbox.user, provider),
            f"{prefix}_access_token": False, f"{prefix}_access_token_expiration": 0})
    run_job(oauth_db, server_id)
    assert posted(oauth_db, tag) == {f"<{tag}-1@example.com>": 1}
    assert mailbox.flags("INBOX") == {uid: {"\\Seen"}}
    assert health(oauth_db, server_id)[1] == 0


# ----------------------------------------------------------------------------------------
# Odoo server processes: push over XOAUTH2, two processes renewing at once
# ----------------------------------------------------------------------------------------

def listener(db, server_id):
    rows = db.query("SELECT state, message FROM mail_router_listener WHERE server_id = %s", [server_id])
    return rows[0] if rows else (None, None)


def expire(db, tokens, dovecot, server_id, server_type):
    """The access token Odoo holds ends, for the provider and for Odoo."""
    tokens.expire_access_tokens(dovecot.user)
    prefix = PROVIDERS[server_type][1]
    with db.env() as env:
        env["fetchmail.server"].browse(server_id).sudo()[f"{prefix}_access_token_expiration"] = int(time.time()) - 60


def test_push_over_xoauth2_and_the_listener_renews_the_token(oauth_db, tokens, mailbox, server_type, tag,
                                                              tmp_path):
    server_id, _refresh = make_oauth_server(oauth_db, tokens, mailbox, server_type, state="done")
    with running(oauth_db, tmp_path, environment=tokens.proxy_environment()) as [odoo]:
        wait_for(lambda: listener(oauth_db, server_id)[0] == "listening", f"listening (log:\n{odoo.tail()})")
        wait_for(lambda: oauth_db.query("SELECT count(*) FROM mail_router_fetch_run WHERE server_id = %s",
                                        [server_id])[0][0], "the job's first run")
        mailbox.append("INBOX", message(tag, 1))
        wait_for(lambda: posted(oauth_db, tag), f"the mail, by push (log:\n{odoo.tail()})")
        renewed = len(issued(tokens))
        assert renewed == 1, "the listener and the job's first run share one renewed token"

        expire(oauth_db, tokens, mailbox, server_id, server_type)
        mailbox.restart()  # the IDLE session is cut: the listener logs in again, and must renew first
        wait_for(lambda: len(issued(tokens)) == 2, f"the listener renews the token (log:\n{odoo.tail()})")
        wait_for(lambda: listener(oauth_db, server_id)[0] == "listening", "listening again")
        mailbox.append("INBOX", message(tag, 2))
        wait_for(lambda: len(posted(oauth_db, tag)) == 2, f"the second mail, by push (log:\n{odoo.tail()})")
    assert posted(oauth_db, tag) == {f"<{tag}-1@example.com>": 1, f"<{tag}-2@example.com>": 1}
    assert mailbox.flags("INBOX") == {1: {"\\Seen"}, 2: {"\\Seen"}}
    assert tokens.count("token", ok=False) == 0
    assert access_token(oauth_db, server_id, server_type) == issued(tokens)[-1]


def test_a_listener_whose_token_is_refused_says_why(oauth_db, tokens, mailbox, tmp_path):
    server_id, refresh_token = make_oauth_server(oauth_db, tokens, mailbox, "outlook", state="done")
    tokens.revoke(refresh_token)
    with running(oauth_db, tmp_path) as [odoo]:
        wait_for(lambda: listener(oauth_db, server_id)[0] == "reconnecting", f"the listener fails (log:\n"
                                                                              f"{odoo.tail()})")
    state, said = listener(oauth_db, server_id)
    assert said.startswith(f"Microsoft refused to renew the access token of the Outlook account {mailbox.user}: "
                           "its consent was revoked or has expired (invalid_grant: AADSTS70008"), said


def call(odoo, db, model, method, *args):
    """``method`` of ``model`` called over JSON-RPC on ``odoo`` (an OdooProcess), as admin:
    Odoo retries a call that meets a concurrent update, as it does a request."""
    payload = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
        "service": "object", "method": "execute_kw",
        "args": [db.name, 2, "admin", model, method, list(args), {}]}}
    request = urllib.request.Request(f"http://127.0.0.1:{odoo.port}/jsonrpc", json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as answer:
        body = json.load(answer)
    assert "error" not in body, body["error"]
    return body["result"]


def test_two_odoo_processes_renewing_at_once(oauth_db, tokens, mailbox, server_type, tag, tmp_path):
    """Fetch Now in one Odoo process and Test & Confirm in another, both with the expired
    token: their two refreshes are in flight together (the service holds each until the
    other came); both work, and the token kept works for the next fetch."""
    uid = mailbox.append("INBOX", message(tag, 1))
    server_id, _refresh = make_oauth_server(oauth_db, tokens, mailbox, server_type, state="done")
    answers = {}
    with running(oauth_db, tmp_path, count=2, cron_threads=0, server_wide=False,
                 environment=tokens.proxy_environment()) as odoos:
        first, second = odoos
        calls = {"fetch now": (first, "action_fetch_now"), "test and confirm": (second, "button_confirm_login")}

        def run(name):
            odoo, method = calls[name]
            answers[name] = call(odoo, oauth_db, "fetchmail.server", method, [server_id])
        threads = [threading.Thread(target=run, args=(name,)) for name in calls]
        with tokens.overlap(2, timeout=120):
            for thread in threads:
                thread.start()
            wait_for(lambda: len(issued(tokens)) == 2, "both refreshes answered", seconds=150)
        for thread in threads:
            thread.join(300)
        logs = [odoo.log.read_text() for odoo in odoos]
    # Both renewed before either wrote: the second to write met the first's commit.
    assert sum("its tokens were renewed by another process at the same time" in log for log in logs) == 1
    assert not any("bad query" in log for log in logs)
    assert answers["fetch now"]["params"]["message"] == "1 fetched (1 routed, 0 quarantined), 0 left on the server."
    assert answers["test and confirm"]["params"]["type"] == "success", answers["test and confirm"]
    assert posted(oauth_db, tag) == {f"<{tag}-1@example.com>": 1} and mailbox.flags("INBOX") == {uid: {"\\Seen"}}
    assert health(oauth_db, server_id) == ("", 0)
    kept = access_token(oauth_db, server_id, server_type)
    assert kept in issued(tokens)
    mailbox.append("INBOX", message(tag, 2))
    run_job(oauth_db, server_id)
    assert len(posted(oauth_db, tag)) == 2 and len(issued(tokens)) == 2, "the kept token works, unrenewed"

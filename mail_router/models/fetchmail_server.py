"""Incoming mail servers, the fetching half: the connection, Test & Confirm, the fetch
job of each mailbox and the fetch run. The health half (what the runs did, the
notifications, the alert) is fetchmail_server_health.py.

Each confirmed IMAP or POP3 server has a scheduled action of its own, its fetch job
(``mail_router_cron_id``, kept in step with the server: active while the server is
confirmed, at its polling interval), so that every cron thread of every Odoo server on the
database can fetch a different mailbox at once; the push listener (listener.py) makes a
mailbox's job due the moment the mailbox has mail. A job fetches for a budget and, when
mail is left, asks the scheduler to go on (ir.cron progress). Stock's "Mail: Fetchmail
Service" stays: run by the scheduler, it keeps the jobs in step; Run Manually (and any
caller of _fetch_mails) fetches every mailbox at once, here.

The exactly-once loop is fetching.drain (commit each message, then flag or delete it;
one message never stops the mailbox). This model gives it what only Odoo has: the
connection (with the login hooks of the OAuth2 modules), the intake (message_process),
the transaction and where fetching stands (mail.router.mailbox.state,
mail.router.pop3.uidl); around it, the lock per server and the time budget. What a
run did is a value, fetching.run.FetchRun.

Context keys: stock's ``fetchmail_cron_running`` and ``default_fetchmail_server_id``
(set for message_process, as stock's fetch does); stock's ``cron_id`` (set by the
scheduler: _fetch_mails run as stock's scheduled action keeps the jobs in step);
``mail_router_arrived`` (ARRIVED_KEY: when the server received the mail being processed,
for the routing log's delay; message_process's signature has no room for it); ``mail_router_deadline`` (the cron's
time budget, handed through stock's fetch_mail, whose signature has no room for it) and
``mail_router_fetch_request`` (the token of a Fetch Now, so that it can say what its
runs did); stock's ``ir_cron_progress_id`` (a run of the scheduled action: its runs are
recorded under it, for Run Manually to say what they did).
"""
# pylint: disable=invalid-commit
# Committing each batch of messages is the point of this module (stock's fetch_mail commits each message).
import contextlib
import functools
import logging
import time
from collections import defaultdict

import psycopg2.errors
import requests

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import config, mute_logger

from .. import parameters
from ..fetching import errors, imap, oauth, pop3
from ..fetching.drain import Limits, drain
from ..fetching.mailboxes import ImapFolder, Pop3Maildrop
from ..fetching.run import QUARANTINED, ROUTED, FetchRun
from ..fetching.settings import ConnectionSettings
from ..routing.outcome import QUARANTINED as QUARANTINED_STAGES
from ..routing.outcome import ROUTED as ROUTED_STAGES
from .mail_mail import NOTIFICATION_DELAY
from .mail_router_log import notification
from .mail_thread import ARRIVED_KEY, NOTIFY_AT_KEY

_logger = logging.getLogger("odoo.addons.mail_router.fetchmail")

SECURITIES = [
    ("ssl", "SSL/TLS"),
    ("starttls", "STARTTLS"),
    ("none", "None (clear text)"),
]
DEFAULT_PORTS = {("imap", "ssl"): 993, ("imap", "starttls"): 143, ("imap", "none"): 143,
                 ("pop", "ssl"): 995, ("pop", "starttls"): 110, ("pop", "none"): 110}
# pg_try_advisory_lock(key1, key2): key1 says "fetchmail server", key2 is its id.
LOCK_CLASS = 0x6D726673
MEGABYTE = 1024 * 1024
DEADLINE_KEY = "mail_router_deadline"
REQUEST_KEY = "mail_router_fetch_request"
FETCH_CRON = "mail.ir_cron_mail_gateway_action"
# The server's fields its fetch job follows.
JOB_FIELDS = frozenset({"state", "active", "server_type", "poll_interval", "name"})
# The OAuth2 modules' methods that ask the provider for a token (microsoft_outlook's,
# google_gmail's), and their local variable holding the provider's answer.
TOKEN_REQUESTS = frozenset({"_fetch_outlook_token", "_fetch_gmail_token"})
TOKEN_ANSWER = "response"


def progress_request(progress_id):
    """The request under which a run of the scheduled action (its ir.cron.progress)
    records its fetch runs."""
    return f"ir.cron.progress,{progress_id}"


def fetch_request(context):
    """The Fetch Now or scheduled action run that a fetch belongs to, if any."""
    if context.get(REQUEST_KEY):
        return context[REQUEST_KEY]
    return context.get("ir_cron_progress_id") and progress_request(context["ir_cron_progress_id"])


class FetchmailServer(models.Model):
    _inherit = "fetchmail.server"

    password = fields.Char(groups="base.group_system")
    connection_security = fields.Selection(
        SECURITIES, required=True, default="ssl",
        help="SSL/TLS: encrypted from the first byte (ports 993/995). STARTTLS: plain port, then "
             "encrypted; refused if the server does not offer it. None: the password and the mail "
             "travel in clear text.")
    verify_certificate = fields.Boolean(
        default=True, help="Check the server's certificate and host name. Turn off only to test.")
    ca_file = fields.Char(
        "Extra CA File", help="Path, on the Odoo server, of a PEM file with the certificate authority "
                              "of a server whose certificate the system does not trust.")
    timeout = fields.Integer("Timeout (s)", default=60, required=True)
    folder = fields.Char("IMAP Folder", default="INBOX", required=True)
    batch_size = fields.Integer(
        default=50, required=True,
        help="Messages fetched per round trip and processed in one transaction: a user saving a record "
             "that one of them was posted on waits until that transaction is committed.")
    batch_megabytes = fields.Integer(
        "Batch Size (MB)", default=20, required=True,
        help="Bytes fetched per round trip, at most: a batch holds fewer messages when they are large "
             "(a single larger message is fetched alone).")
    max_message_megabytes = fields.Integer(
        "Largest Message (MB)", default=50, required=True,
        help="A larger message is not fetched: it stays on the mail server, neither flagged nor deleted, "
             "and the Health tab names it. Fetch it with a mail client, or raise this limit.")
    mailbox_state_ids = fields.One2many("mail.router.mailbox.state", "server_id", readonly=True)
    poll_interval = fields.Integer(
        "Polling Interval (min)", default=5, required=True,
        help="How often this mailbox is fetched when no new mail is announced by push (IMAP IDLE). With push, "
             "new mail is fetched within seconds; polling goes on underneath, so nothing waits longer than this.")
    mail_router_granted_scope = fields.Char(
        "Granted Scopes", readonly=True, copy=False, groups="base.group_system",
        help="What the OAuth2 provider said it granted, with the last token it issued for this server (Outlook "
             "and Gmail servers): an IMAP login refused for want of the IMAP scope is told as such.")
    mail_router_cron_id = fields.Many2one(
        "ir.cron", "Fetch Job", readonly=True, copy=False, ondelete="set null",
        help="This mailbox's scheduled action: it fetches the mailbox at the polling interval, and at once when "
             "push announces new mail.")

    _sql_constraints = [
        ("timeout_positive", "CHECK(timeout > 0)", "The timeout must be positive."),
        ("batch_size_positive", "CHECK(batch_size > 0)", "The batch size must be positive."),
        ("batch_megabytes_positive", "CHECK(batch_megabytes > 0)", "The batch size in MB must be positive."),
        ("max_message_megabytes_positive", "CHECK(max_message_megabytes > 0)",
         "The largest message size must be positive."),
        ("poll_interval_positive", "CHECK(poll_interval > 0)", "The polling interval must be at least a minute."),
    ]

    @api.onchange("connection_security", "server_type")
    def _onchange_connection_security(self):
        for server in self:
            server.is_ssl = server.connection_security == "ssl"
            server.port = DEFAULT_PORTS.get((server.server_type, server.connection_security), server.port)

    @api.model_create_multi
    def create(self, vals_list):
        servers = super().create([self._with_security_and_is_ssl(vals) for vals in vals_list])
        servers._mail_router_sync_jobs()
        return servers

    def write(self, vals):
        result = super().write(self._with_security_and_is_ssl(vals))
        if JOB_FIELDS & set(vals):  # never for the health fields a fetch writes: its job is running
            self._mail_router_sync_jobs()
        return result

    def unlink(self):
        jobs = self.with_context(active_test=False).mail_router_cron_id
        result = super().unlink()
        jobs.sudo().unlink()
        return result

    def _mail_router_sync_jobs(self):
        """Each confirmed IMAP or POP3 server has its fetch job, active, at its polling
        interval; any other server's job is off."""
        Cron = self.env["ir.cron"].sudo()
        for server in self.with_context(active_test=False):
            wanted = server.active and server.state == "done" and bool(server._mail_router_fetchable())
            values = {"name": self.env._("Mail Router: fetch %s", server.name), "active": wanted,
                      "interval_number": server.poll_interval, "interval_type": "minutes"}
            job = server.mail_router_cron_id.sudo()
            if job:
                changed = {key: value for key, value in values.items() if job[key] != value}
                if changed:
                    job.write(changed)
            elif wanted:
                server.sudo().mail_router_cron_id = Cron.create({
                    **values, "model_id": self.env["ir.model"]._get_id(self._name), "state": "code",
                    "code": f"model._mail_router_run_job({server.id})",
                    "user_id": self.env.ref("base.user_root").id, "priority": 5,
                })

    @api.model
    def _with_security_and_is_ssl(self, vals):
        """Keep stock's is_ssl (read by other modules) and connection_security in step."""
        if "connection_security" in vals:
            return dict(vals, is_ssl=vals["connection_security"] == "ssl")
        if "is_ssl" in vals:  # stock's checkbox: SSL off means STARTTLS, never clear text
            return dict(vals, connection_security="ssl" if vals["is_ssl"] else "starttls")
        return vals

    # ------------------------------------------------------------------
    # Connection
    # ------------------------------------------------------------------

    def _mail_router_settings(self):
        self.ensure_one()
        return ConnectionSettings(
            host=self.server, port=int(self.port), security=self.connection_security,
            timeout=float(self.timeout), ca_file=self.ca_file or None, verify=self.verify_certificate)

    def connect(self, allow_archived=False):
        """A logged-in IMAP or POP3 connection over verified TLS. IMAP logs in through
        ``_imap_login``, which the OAuth2 modules (google_gmail, microsoft_outlook) override."""
        self.ensure_one()
        connection_type = self._get_connection_type()
        if connection_type not in ("imap", "pop"):
            return super().connect(allow_archived=allow_archived)
        if not allow_archived and not self.active:
            raise UserError(self.env._('The server "%s" cannot be used because it is archived.', self.display_name))
        settings = self._mail_router_settings()
        if connection_type == "imap":
            connection = imap.open_imap(settings)
            with _closed_on_error(connection, imap.close):
                self._mail_router_imap_login(connection)
            return connection
        connection = pop3.open_pop3(settings)
        with _closed_on_error(connection, pop3.drop):
            pop3.login_pop3(connection, self.user, self.sudo().password)
        return connection

    def _mail_router_imap_login(self, connection):
        """Log in through ``_imap_login``, XOAUTH2 for an Outlook or Gmail server; what the
        OAuth2 modules raise when a token cannot be had becomes an error that names the
        provider and keeps its answer (fetching.errors), for the administrator."""
        provider = oauth.PROVIDERS.get(self.server_type)
        if provider is None:
            imap.login_with(connection, self._imap_login)
            return
        # Stock's key: the renewed tokens' writes do not toggle the fetch cron, whose search
        # would flush them; they are written below, where a concurrent renewal is handled.
        server = self.with_context(fetchmail_cron_running=True)
        try:
            imap.login_with(connection, server._imap_login)
        except errors.LoginRefused as exc:
            granted = self.sudo().mail_router_granted_scope
            raise errors.TokenLoginRefused(provider, self.user, exc.reply,
                                           tuple(granted.split()) if granted else None) from exc
        except requests.RequestException as exc:
            raise errors.TokenEndpointUnreachable(provider, self.user, _request_failure(exc)) from exc
        except UserError as exc:
            answer = _token_answer(exc)
            if answer is None:  # not the provider's refusal ("Please connect with your Outlook account"...)
                raise
            raise errors.TokenRefused(provider, self.user, answer.status_code, *_oauth_error(answer)) from exc
        server._mail_router_keep_tokens()

    def _mail_router_keep_tokens(self):
        """Write now the tokens the login renewed, in a savepoint. When another process renewed
        this server's tokens at the same moment and committed first, PostgreSQL refuses this
        write (concurrent update, under repeatable read): the other's tokens are kept in the
        database, this transaction goes on with its own (just issued, valid: the login was
        made with them), and the fetch does not fail for it."""
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint(flush=False):  # a refusal foreseen
                self.flush_recordset()
        except psycopg2.errors.SerializationFailure:
            _logger.info("fetchmail: %s server %s: its tokens were renewed by another process at the same "
                         "time: that process's are kept", self.server_type, self.name)

    def _fetch_outlook_token(self, grant_type, **values):
        """microsoft_outlook's token request: the scopes granted are kept."""
        answer = super()._fetch_outlook_token(grant_type, **values)
        self.sudo().mail_router_granted_scope = answer.get("scope")
        return answer

    def _fetch_gmail_token(self, grant_type, **values):
        """google_gmail's token request: the scopes granted are kept."""
        answer = super()._fetch_gmail_token(grant_type, **values)
        self.sudo().mail_router_granted_scope = answer.get("scope")
        return answer

    def button_confirm_login(self):
        """Test & Confirm: a success confirms the server and a notification says how many
        messages wait; a failure is kept in the Health tab (Last Error, not counted among
        the failed fetches) and shown, in words an administrator can act on, in a dialog.
        Either way the form reloads to show it. A failure raises nothing: the request
        commits the Health tab (stock raised a UserError, which rolled it back)."""
        said = []
        for server in self:
            connection_type = server._get_connection_type()
            if connection_type not in ("imap", "pop"):
                super(FetchmailServer, server).button_confirm_login()
                said.append(self.env._("Connection to %s succeeded.", server.name))
                continue
            try:
                with self.env.cr.savepoint():
                    count = server._mail_router_count_messages(connection_type)
            except Exception as exc:  # every failure becomes a sentence for the administrator
                message = errors.explain(exc, server._mail_router_settings())
                _logger.info("fetchmail: %s server %s: Test & Confirm failed: %s", server.server_type, server.name,
                             message)
                server.write({"last_error": self.env._("Test & Confirm: %s", message),
                              "last_error_date": fields.Datetime.now()})
                return server._mail_router_test_failed()
            server.write({"state": "done"})
            said.append(server._mail_router_test_success(connection_type, count))
        return notification(self.env._("Test & Confirm"), "\n".join(said), "success")

    def _mail_router_test_failed(self):
        """The dialog of a failed Test & Confirm: the Last Error; closing it reloads the form."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Test & Confirm failed: %s", self.name),
            "res_model": self._name,
            "res_id": self.id,
            "views": [(self.env.ref("mail_router.fetchmail_server_view_form_test_failed").id, "form")],
            "target": "new",
        }

    def _mail_router_count_messages(self, connection_type):
        """Log in (and select the IMAP folder), then leave: how many messages wait there."""
        connection = self.connect(allow_archived=True)
        if connection_type == "imap":
            with _closed_on_error(connection, imap.close):
                imap.select_folder(connection, self.folder)
                count = imap.message_count(connection)
            imap.close(connection)
            return count
        with _closed_on_error(connection, pop3.drop):
            count = pop3.message_count(connection)
        pop3.quit(connection)
        return count

    def _mail_router_test_success(self, connection_type, count):
        if count is None:
            return self.env._("Connection to %s succeeded.", self.name)
        if connection_type == "imap":
            return self.env._("Connection to %(server)s succeeded: %(count)s messages in folder %(folder)s.",
                              server=self.name, count=count, folder=self.folder)
        return self.env._("Connection to %(server)s succeeded: %(count)s messages in the maildrop.",
                          server=self.name, count=count)

    # ------------------------------------------------------------------
    # Fetching: stock's cron calls _fetch_mails, Fetch Now fetch_mail
    # ------------------------------------------------------------------

    @api.model
    def _fetch_mails(self):
        """Run as stock's scheduled action: keep every mailbox's fetch job in step (each
        fetches its mailbox itself). Run otherwise (Run Manually, another module):
        fetch every mailbox now, as stock does."""
        servers = self.search([("state", "=", "done"), ("server_type", "!=", "local")])
        fetch_cron = self.env.ref(FETCH_CRON, raise_if_not_found=False)
        if fetch_cron and self.env.context.get("cron_id") == fetch_cron.id:
            # every server, archived included: a job whose server changed is put in step
            self.with_context(active_test=False).search([])._mail_router_sync_jobs()  # pylint: disable=no-search-all
            return True
        # Through fetch_mail, as stock: what other modules add to it (the extra folders of
        # OCA's fetchmail_attach_from_folder) runs from here too.
        deadline = time.monotonic() + self._mail_router_time_budget()
        servers.with_context(**{DEADLINE_KEY: deadline}).fetch_mail(raise_exception=False)
        fetched = servers._mail_router_fetchable()
        # remaining > 0 makes the cron run again at once: a huge mailbox goes on there.
        self.env["ir.cron"]._notify_progress(done=sum(fetched.mapped("last_fetch_count")),
                                             remaining=len(fetched.filtered("fetch_unfinished")))
        return True

    @api.model
    def _mail_router_run_job(self, server_id):
        """The fetch job of one mailbox: fetch for at most the job's budget
        (mail_router.fetch_job_seconds); when mail is left, the job is made due again at
        once (a trigger), and its cron thread runs the other due jobs first. Not Odoo's
        progress API: a job reporting work left is run again in the same thread, up to
        ten times (ir.cron's MAX_BATCH_PER_CRON_JOB), before any other mailbox."""
        server = self.browse(server_id).exists()
        if not (server and server.active and server.state == "done" and server._mail_router_fetchable()):
            return
        deadline = time.monotonic() + parameters.FETCH_JOB_SECONDS.read(self.env)
        run = server._mail_router_fetch(deadline)
        self.env["ir.cron"]._notify_progress(done=run.fetched, remaining=0)
        if run.more:
            server.mail_router_cron_id.sudo()._trigger()

    def fetch_mail(self, raise_exception=True):
        deadline = self.env.context.get(DEADLINE_KEY) or time.monotonic() + self._mail_router_time_budget()
        for server in self._mail_router_fetchable():
            if time.monotonic() >= deadline:
                # its turn comes at the next run, at once
                server._mail_router_record_run(FetchRun(server.id, more=True), duration_ms=0)
                continue
            run = server._mail_router_fetch(deadline)
            if run.error and raise_exception:
                raise UserError(self.env._("Couldn't get your emails from %(server)s: %(error)s",
                                           server=server.name, error=run.error))
        return True

    def _mail_router_fetchable(self):
        """The servers mail_router fetches: IMAP and POP3 (Gmail and Outlook are IMAP);
        a 'local' server is fed by the mailgate script instead."""
        return self.filtered(lambda server: server._get_connection_type() in ("imap", "pop"))

    @api.model
    def _mail_router_time_budget(self):
        """Seconds one run may fetch: three quarters of the cron's time limit, so that a
        run ends by itself and is not killed mid-way."""
        limit = config.get("limit_time_real_cron") or -1
        if limit <= 0:
            limit = config.get("limit_time_real") or 0
        return limit * 0.75 if limit > 0 else 600

    def _mail_router_fetch(self, deadline):
        """Fetch this server under its lock, then send the notifications of what it
        posted; the run is recorded (Health tab) and returned: a FetchRun."""
        self.ensure_one()
        started, since = time.monotonic(), fields.Datetime.now()
        notify_at = since + NOTIFICATION_DELAY
        # As stock, this commits (after each batch of messages); commit the caller's work first, so
        # that the rollback after a failure below takes back only this fetch's.
        self.env.cr.commit()
        receiver = _Receiver(self.with_context(fetchmail_cron_running=True, default_fetchmail_server_id=self.id,
                                               **{NOTIFY_AT_KEY: notify_at}))
        try:
            with self._mail_router_lock() as locked:
                run = self._mail_router_drain_locked(receiver, deadline) if locked else FetchRun(self.id, skipped=True)
        finally:  # what was committed before a failure is notified too
            self.env["mail.mail"].sudo()._mail_router_send_notifications(receiver.posted_on, notify_at, since, self)
        self._mail_router_record_run(run, duration_ms=round((time.monotonic() - started) * 1000))
        self.env.cr.commit()
        return run

    def _mail_router_drain_locked(self, receiver, deadline):
        if not self.active:  # archived since the run began
            return FetchRun(self.id, skipped=True)
        _logger.info("fetchmail: start checking for new emails on %s server %s", self.server_type, self.name)
        try:
            report = self._mail_router_drain(receiver, deadline)
        except Exception as exc:  # the server's health records every failure
            self.env.cr.rollback()
            message = errors.explain(exc, self._mail_router_settings())
            _logger.warning("fetchmail: %s server %s failed: %s", self.server_type, self.name, message)
            return FetchRun(self.id, error=message)
        _logger.info("fetchmail: fetched %d email(s) on %s server %s%s%s", report.received, self.server_type,
                     self.name, f"; {report.left} left on the server" if report.left else "",
                     "; more left for the next run" if report.more else "")
        return FetchRun.of(self.id, report)

    @contextlib.contextmanager
    def _mail_router_lock(self):
        """A session-level advisory lock on a connection of its own: it outlives the
        commit of each batch, and dies with the process if that is killed."""
        cr = self.pool.cursor()
        locked = False
        try:
            cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, self.id])
            locked = cr.fetchone()[0]
            if not locked:
                _logger.info("fetchmail: %s server %s is being fetched by another run: skipped",
                             self.server_type, self.name)
            yield locked
        finally:
            if locked:
                cr.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, self.id])
            cr.close()

    def _mail_router_drain(self, receiver, deadline):
        """The exactly-once loop (fetching.drain) over this server's folder or maildrop."""
        limits = Limits(count=self.batch_size, batch_bytes=self.batch_megabytes * MEGABYTE,
                        max_message_bytes=self.max_message_megabytes * MEGABYTE)
        if self._get_connection_type() == "imap":
            State = self.env["mail.router.mailbox.state"]
            mailbox = ImapFolder(self.connect, self.folder, State._checkpoint(self, self.folder))
            store = functools.partial(State._store, self, self.folder)
        else:
            Uidl = self.env["mail.router.pop3.uidl"]
            mailbox = Pop3Maildrop(self.connect, Uidl._checkpoint(self))
            store = functools.partial(Uidl._store, self)
        receiver.stored, receiver.store = mailbox.checkpoint, store
        with mailbox:
            return drain(mailbox, receiver, limits, deadline)

    def _mail_router_receive(self, raw, arrived=None):
        """Route one fetched message (received by the mail server at ``arrived``, seconds
        since the epoch), as stock's fetch does: message_process (which other modules
        wrap). The intake keeps what it cannot route."""
        self.env["mail.thread"].with_context(**{ARRIVED_KEY: arrived}).message_process(
            self.object_id.model, raw, save_original=self.original, strip_attachments=not self.attach)


class _Receiver:
    """What drain() calls back during one run of one server: the intake, this cursor's
    transaction, the checkpoint's storage and the Health tab. It says what became of
    each mail, read from the routing log entry the intake wrote for it (message_process
    returns only stock's thread id); and it keeps the records posted on ({model: ids}),
    whose notifications are sent once the run is done."""

    def __init__(self, server):
        self.server = server
        self.stored = self.store = None
        self.posted_on = defaultdict(set)
        self.last_log_id = server.env["mail.router.log"].sudo().search([], limit=1).id or 0

    def receive(self, raw, arrived):
        # One savepoint per mail: the batch is one transaction, and a mail that raises
        # undoes only itself (and what it left for the commit: tracking, flushed at the end).
        with self.server.env.cr.savepoint():
            self.server._mail_router_receive(raw, arrived)
            latest = self.server.env["mail.router.log"]._mail_router_latest(self.server.id, self.last_log_id)
        if not latest:  # another module's message_process did not hand it to the intake
            return None
        self.last_log_id, stage, model, res_id = latest
        if model:
            self.posted_on[model].add(res_id)
        if stage in ROUTED_STAGES:
            return ROUTED
        return QUARANTINED if stage in QUARANTINED_STAGES else stage

    def commit(self, checkpoint):
        if checkpoint != self.stored:
            self.store(checkpoint)
        self.server.env.cr.commit()
        self.stored = checkpoint

    def leave(self, message, reason, error):
        self.server._mail_router_leave(message, reason, error)


def _token_answer(exc):
    """The provider's answer (a requests.Response) to the token request that ``exc`` was
    raised for, or None. Stock's UserError keeps Microsoft's description in its text and
    drops Google's answer altogether; the answer is still a local variable of the request's
    frame, in the traceback (below the overrides of the request, this model's included)."""
    traceback = exc.__traceback__
    while traceback is not None:
        frame = traceback.tb_frame
        answer = frame.f_locals.get(TOKEN_ANSWER) if frame.f_code.co_name in TOKEN_REQUESTS else None
        if isinstance(answer, requests.Response):
            return answer
        traceback = traceback.tb_next
    return None


def _oauth_error(answer):
    """(error, error_description) of an OAuth2 error answer (RFC 6749 5.2), each None
    when absent."""
    try:
        body = answer.json()
    except ValueError:
        return None, answer.text[:200] or None
    if not isinstance(body, dict):
        return None, None
    return body.get("error"), body.get("error_description")


def _request_failure(exc):
    """Why a request got no answer, in the system's words ("Connection refused", "Name or
    service not known", "timed out"), and whether it was the proxy's (HTTPS_PROXY): requests
    and urllib3 wrap the socket's error, and repeat the URL and their objects' reprs."""
    chain, cause = [], exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        # urllib3 keeps the cause in MaxRetryError.reason and ProxyError.original_error
        wrapped = getattr(cause, "reason", None) or getattr(cause, "original_error", None)
        cause = wrapped if isinstance(wrapped, BaseException) else cause.__cause__ or cause.__context__
    reason = next((cause.strerror for cause in chain if isinstance(cause, OSError) and cause.strerror),
                  str(chain[-1]) or type(chain[-1]).__name__)
    return f"through the proxy: {reason}" if isinstance(exc, requests.exceptions.ProxyError) else reason


@contextlib.contextmanager
def _closed_on_error(connection, close):
    try:
        yield connection
    except BaseException:
        with contextlib.suppress(Exception):
            close(connection)
        raise

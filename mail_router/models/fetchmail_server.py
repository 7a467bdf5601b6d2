"""Incoming mail servers: stock's cron and "Fetch Now" run mail_router's fetch.

The exactly-once loop is fetching.drain (commit each message, then flag or
delete it; one message never stops the mailbox). This model gives it what
only Odoo has: the connection (with the login hooks of the OAuth2 modules),
the pipeline (message_process), the transaction, where fetching stands
(mail.router.mailbox.state, mail.router.pop3.uidl), and the server's health;
around it, the lock per server, the time budget and the failure alert.
"""
# pylint: disable=invalid-commit
# Committing after each message is the point of this module (as stock's fetch_mail does).
import ast
import contextlib
import datetime
import functools
import logging
import time
from dataclasses import dataclass

from psycopg2.errors import LockNotAvailable

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import config

from ..fetching import errors, imap, pop3
from ..fetching.drain import Limits, drain
from ..fetching.mailboxes import ImapFolder, Pop3Maildrop
from ..fetching.settings import ConnectionSettings
from ..routing.outcome import ROUTED
from .mail_mail import OUTBOX_KEY, Outbox
from .mail_router_log import notification

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
ALERT_PARAMETER = "mail_router.fetch_failure_alert_threshold"
DEFAULT_ALERT_THRESHOLD = 3
MEGABYTE = 1024 * 1024
# How long a failed Test Connection waits to write the Health tab on its own cursor: the
# server's row may be held by the very transaction that runs the test.
TEST_FAILURE_LOCK_TIMEOUT = "5s"
# The stages of the routing log that put a fetched mail on a record.


@dataclass(frozen=True)
class FetchMark:
    """Where the routing log and the quarantine stood when a fetch began: a server's
    entries after these ids are that fetch's."""
    started: datetime.datetime
    last_log_id: int
    last_quarantine_id: int


@dataclass(frozen=True)
class FetchOutcome:
    """What one fetch did on one server, for the notification of Fetch Now or Run Manually."""
    fetched: int = 0       # processed and committed
    routed: int = 0        # put on a record
    quarantined: int = 0
    left: int = 0          # left on the mail server
    more: bool = False     # the time budget ran out first: the next run goes on
    error: str = ""        # the fetch failed, this is why
    skipped: bool = False  # another run was fetching this server


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
    batch_size = fields.Integer(default=50, required=True, help="Messages fetched per round trip.")
    batch_megabytes = fields.Integer(
        "Batch Size (MB)", default=20, required=True,
        help="Bytes fetched per round trip, at most: a batch holds fewer messages when they are large "
             "(a single larger message is fetched alone).")
    max_message_megabytes = fields.Integer(
        "Largest Message (MB)", default=50, required=True,
        help="A larger message is not fetched: it stays on the mail server, neither flagged nor deleted, "
             "and the Health tab names it. Fetch it with a mail client, or raise this limit.")
    last_success_date = fields.Datetime("Last Successful Fetch", readonly=True)
    last_error = fields.Text(
        readonly=True, help="Why the last fetch, or the last Test Connection, failed. A success does not clear "
                            "it: compare its date with the Last Successful Fetch.")
    last_error_date = fields.Datetime(readonly=True)
    consecutive_failures = fields.Integer(
        readonly=True, help="Fetches that failed in a row since the last successful one; at the alert threshold "
                            "the Settings administrators get an email. A failed Test Connection is not counted: "
                            "it sets the Last Error only.")
    last_fetch_count = fields.Integer("Messages in Last Fetch", readonly=True)
    fetch_unfinished = fields.Boolean(
        "More Left for the Next Run", readonly=True,
        help="The last run reached its time budget before this server's mailbox was done: the "
             "scheduled action runs again at once and goes on.")
    left_count = fields.Integer(
        "Left on the Server in Last Fetch", readonly=True,
        help="Messages the last fetch left on the mail server, neither flagged nor deleted: too large, "
             "or their processing failed. The log names each (grep fetchmail).")
    last_left_message = fields.Char("Last Message Left", readonly=True)
    last_left_reason = fields.Text("Why It Was Left", readonly=True)
    last_left_date = fields.Datetime("Left On", readonly=True)
    mailbox_state_ids = fields.One2many("mail.router.mailbox.state", "server_id", readonly=True)
    routing_log_count = fields.Integer(compute="_compute_routing_counts")
    quarantine_count = fields.Integer("Waiting in Quarantine", compute="_compute_routing_counts")
    fetch_cron_inactive_reason = fields.Char(
        "Why Nothing Is Fetched by Itself", compute="_compute_fetch_cron_inactive_reason",
        help="Why the scheduled action Mail: Fetchmail Service is off, and what turns it on.")

    _sql_constraints = [
        ("timeout_positive", "CHECK(timeout > 0)", "The timeout must be positive."),
        ("batch_size_positive", "CHECK(batch_size > 0)", "The batch size must be positive."),
        ("batch_megabytes_positive", "CHECK(batch_megabytes > 0)", "The batch size in MB must be positive."),
        ("max_message_megabytes_positive", "CHECK(max_message_megabytes > 0)",
         "The largest message size must be positive."),
    ]

    # ------------------------------------------------------------------
    # Form
    # ------------------------------------------------------------------

    def _compute_routing_counts(self):
        logs = dict(self.env["mail.router.log"]._read_group(
            [("fetchmail_server_id", "in", self.ids)], ["fetchmail_server_id"], ["__count"]))
        waiting = dict(self.env["mail.router.quarantine"]._read_group(
            [("fetchmail_server_id", "in", self.ids), ("state", "=", "pending")], ["fetchmail_server_id"], ["__count"]))
        for server in self:
            server.routing_log_count = logs.get(server, 0)
            server.quarantine_count = waiting.get(server, 0)

    @api.depends("state")  # so that a new server's form shows it too
    def _compute_fetch_cron_inactive_reason(self):
        reason = self.env["ir.cron"].sudo()._mail_router_fetch_cron_inactive_reason()
        self.fetch_cron_inactive_reason = reason

    def action_open_routing_log(self):
        return self._mail_router_action("mail_router.mail_router_log_action")

    def action_open_quarantine(self):
        return self._mail_router_action("mail_router.mail_router_quarantine_action")

    def action_open_simulator(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("mail_router.mail_router_simulator_action")
        action["context"] = {"default_fetchmail_server_id": self.id}
        return action

    def _mail_router_action(self, xmlid):
        """The window action ``xmlid`` on this server's entries."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = [("fetchmail_server_id", "=", self.id)]
        action["context"] = dict(ast.literal_eval(action.get("context") or "{}"), default_fetchmail_server_id=self.id)
        return action

    @api.onchange("connection_security", "server_type")
    def _onchange_connection_security(self):
        for server in self:
            server.is_ssl = server.connection_security == "ssl"
            server.port = DEFAULT_PORTS.get((server.server_type, server.connection_security), server.port)

    @api.model_create_multi
    def create(self, vals_list):
        return super().create([self._with_security_and_is_ssl(vals) for vals in vals_list])

    def write(self, vals):
        return super().write(self._with_security_and_is_ssl(vals))

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
                imap.login_with(connection, self._imap_login)
            return connection
        connection = pop3.open_pop3(settings)
        with _closed_on_error(connection, pop3.drop):
            pop3.login_pop3(connection, self.user, self.sudo().password)
        return connection

    def button_confirm_login(self):
        """Test Connection: the cause of a failure in words an administrator can act on,
        kept in the Health tab; a success is confirmed by a notification saying how many
        messages wait, and the form reloads to show the new state."""
        said = []
        for server in self:
            connection_type = server._get_connection_type()
            if connection_type not in ("imap", "pop"):
                super(FetchmailServer, server).button_confirm_login()
                said.append(self.env._("Connection to %s succeeded.", server.name))
                continue
            try:
                count = server._mail_router_count_messages(connection_type)
            except Exception as exc:  # every failure becomes a sentence for the administrator
                message = errors.explain(exc, server._mail_router_settings())
                server._mail_router_record_test_failure(message)
                raise UserError(message) from exc
            server.write({"state": "done"})
            said.append(server._mail_router_test_success(connection_type, count))
        return notification(self.env._("Test Connection"), "\n".join(said), "success")

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

    def _mail_router_record_test_failure(self, message):
        """Keep a failed Test Connection in the Health tab, for the administrator to find
        after closing the error dialog: the last error and its time (not the consecutive
        failures, which count fetches). The UserError rolls this transaction back, so it
        is written on a cursor of its own, committed now."""
        with self.env.registry.cursor() as cr:
            if not self._mail_router_lock_row(cr):
                # not committed yet (created in this transaction), or held by it: the error
                # dialog still says it
                _logger.info("fetchmail: %s server %s: the failed Test Connection is not kept in its Health tab",
                             self.server_type, self.name)
                return
            self.with_env(self.env(cr=cr)).write({
                "last_error": self.env._("Test Connection: %s", message),
                "last_error_date": fields.Datetime.now()})

    def _mail_router_lock_row(self, cr):
        """Whether ``cr`` holds this server's row for update now. The transaction running
        the test may hold it (it wrote the server before testing): waiting for it would be
        waiting for ourselves, so give up after a while."""
        cr.execute("SET LOCAL lock_timeout = %s", [TEST_FAILURE_LOCK_TIMEOUT])
        try:
            cr.execute("SELECT id FROM fetchmail_server WHERE id = %s FOR NO KEY UPDATE", [self.id],
                       log_exceptions=False)
        except LockNotAvailable:
            cr.rollback()
            return False
        return bool(cr.fetchall())

    # ------------------------------------------------------------------
    # Fetching: stock's cron calls _fetch_mails, "Fetch Now" calls fetch_mail
    # (through action_fetch_now, below, which says what the fetch did)
    # ------------------------------------------------------------------

    @api.model
    def _fetch_mails(self):
        servers = self.search([("state", "=", "done"), ("server_type", "!=", "local")])
        # Through fetch_mail, as stock: what other modules add to it (the extra folders of
        # OCA's fetchmail_attach_from_folder) runs from the cron too.
        deadline = time.monotonic() + self._mail_router_time_budget()
        servers.with_context(mail_router_deadline=deadline).fetch_mail(raise_exception=False)
        fetched = servers._mail_router_fetchable()
        # remaining > 0 makes the cron run again at once: a huge mailbox goes on there.
        self.env["ir.cron"]._notify_progress(done=sum(fetched.mapped("last_fetch_count")),
                                             remaining=len(fetched.filtered("fetch_unfinished")))
        return True

    def fetch_mail(self, raise_exception=True):
        deadline = self.env.context.get("mail_router_deadline") or time.monotonic() + self._mail_router_time_budget()
        for server in self._mail_router_fetchable():
            if time.monotonic() >= deadline:
                server.fetch_unfinished = True  # its turn comes at the next run, at once
                continue
            server._mail_router_fetch(deadline, raise_exception=raise_exception)
        return True

    def action_fetch_now(self):
        """Fetch Now: fetch_mail, then a notification of what it did. A failure is told
        there and kept in the Health tab (raising would only repeat it in a dialog)."""
        mark = self._mail_router_fetch_mark()
        self.fetch_mail(raise_exception=False)
        outcomes = self._mail_router_fetch_outcomes(mark)
        if len(outcomes) == 1:
            [(server, outcome)] = outcomes.items()
            return notification(self.env._("Fetch Now: %s", server.name), server._mail_router_outcome_text(outcome),
                                _outcome_kind(outcome))
        lines = [f"{server.name}: {server._mail_router_outcome_text(outcome)}" for server, outcome in outcomes.items()]
        kinds = [_outcome_kind(outcome) for outcome in outcomes.values()]
        return notification(self.env._("Fetch Now"), "\n".join(lines) or self.env._("Nothing to fetch."),
                            _worst_kind(kinds))

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

    def _mail_router_fetch(self, deadline, raise_exception):
        """Fetch this server under its lock, then send the notifications of what it
        fetched; the Health tab says how it went."""
        self.ensure_one()
        outbox = Outbox()
        # The notifications of the fetched mail wait in the outbox, sent once the run is done.
        server = self.with_context(fetchmail_cron_running=True, default_fetchmail_server_id=self.id,
                                   mail_notify_force_send=False, **{OUTBOX_KEY: outbox})
        # As stock, this commits (after each message); commit the caller's work first, so
        # that the rollback after a failure below takes back only this fetch's.
        self.env.cr.commit()
        try:
            with self._mail_router_lock() as locked:
                if locked:
                    server._mail_router_fetch_locked(deadline, raise_exception)
                else:
                    _logger.info("fetchmail: %s server %s is being fetched by another run: skipped",
                                 self.server_type, self.name)
        finally:  # what was committed before a failure is notified too
            self._mail_router_send_notifications(outbox)

    def _mail_router_fetch_locked(self, deadline, raise_exception):
        _logger.info("fetchmail: start checking for new emails on %s server %s", self.server_type, self.name)
        try:
            report = self._mail_router_drain(deadline)
        except Exception as exc:  # the server's health records every failure
            self.env.cr.rollback()
            message = errors.explain(exc, self._mail_router_settings())
            _logger.warning("fetchmail: %s server %s failed: %s", self.server_type, self.name, message)
            self._mail_router_record_failure(message)
            self.env.cr.commit()
            if raise_exception:
                raise UserError(self.env._("Couldn't get your emails from %(server)s: %(error)s",
                                  server=self.name, error=message)) from exc
            return
        self.write({"date": fields.Datetime.now(), "last_success_date": fields.Datetime.now(),
                    "consecutive_failures": 0, "last_fetch_count": report.received,
                    "left_count": report.left, "fetch_unfinished": report.more})
        self.env.cr.commit()
        _logger.info("fetchmail: fetched %d email(s) on %s server %s%s%s", report.received, self.server_type,
                     self.name, f"; {report.left} left on the server" if report.left else "",
                     "; more left for the next run" if report.more else "")

    def _mail_router_send_notifications(self, outbox):
        """The notifications a run queued, sent now; what fails waits in the mail queue."""
        try:
            sent = self.env["mail.mail"].sudo()._mail_router_send_outbox(outbox)
        except Exception:  # the mail queue's scheduled action sends them later
            self.env.cr.rollback()
            _logger.exception("fetchmail: sending the notifications of %s server %s failed: "
                              "they wait in the mail queue", self.server_type, self.name)
            return
        if sent:
            _logger.info("fetchmail: sent %d notification email(s) for %s server %s", sent, self.server_type, self.name)

    @contextlib.contextmanager
    def _mail_router_lock(self):
        """A session-level advisory lock on a connection of its own: it outlives the
        commit after each message, and dies with the process if that is killed."""
        cr = self.pool.cursor()
        locked = False
        try:
            cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, self.id])
            locked = cr.fetchone()[0]
            yield locked
        finally:
            if locked:
                cr.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, self.id])
            cr.close()

    def _mail_router_drain(self, deadline):
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
        with mailbox:
            return drain(mailbox, _Intake(self, store, mailbox.checkpoint), limits, deadline)

    def _mail_router_receive(self, raw):
        """Route one fetched message; the pipeline keeps what it cannot route."""
        self.env["mail.thread"].message_process(
            self.object_id.model, raw, save_original=self.original, strip_attachments=not self.attach)

    # ------------------------------------------------------------------
    # What a fetch did: the notifications of Fetch Now and of Run Manually (ir_cron.py)
    # ------------------------------------------------------------------

    @api.model
    def _mail_router_fetch_mark(self):
        def last_id(model):
            return self.env[model].sudo().search([], order="id desc", limit=1).id or 0

        return FetchMark(fields.Datetime.now(), last_id("mail.router.log"), last_id("mail.router.quarantine"))

    def _mail_router_fetch_outcomes(self, mark):
        """{server: FetchOutcome} of the fetch that began at ``mark``, read from the Health
        tab and from the routing log and quarantine entries made since."""
        self.env.invalidate_all()  # the fetch committed and rolled back on its own
        servers = self._mail_router_fetchable()
        routed = dict(self.env["mail.router.log"].sudo()._read_group(
            [("id", ">", mark.last_log_id), ("fetchmail_server_id", "in", servers.ids),
             ("stage", "in", list(ROUTED))], ["fetchmail_server_id"], ["__count"]))
        quarantined = dict(self.env["mail.router.quarantine"].sudo()._read_group(
            [("id", ">", mark.last_quarantine_id), ("fetchmail_server_id", "in", servers.ids)],
            ["fetchmail_server_id"], ["__count"]))
        outcomes = {}
        for server in servers:
            since = {"routed": routed.get(server, 0), "quarantined": quarantined.get(server, 0)}
            if server.last_success_date and server.last_success_date >= mark.started:
                outcomes[server] = FetchOutcome(fetched=server.last_fetch_count, left=server.left_count,
                                                more=server.fetch_unfinished, **since)
            elif server.last_error_date and server.last_error_date >= mark.started:
                outcomes[server] = FetchOutcome(error=server.last_error, **since)
            else:  # its turn did not come within the time budget, or another run holds it
                outcomes[server] = FetchOutcome(more=server.fetch_unfinished, skipped=not server.fetch_unfinished)
        return outcomes

    def _mail_router_outcome_text(self, outcome):
        if outcome.error:
            return self.env._("failed: %s", outcome.error)
        if outcome.skipped:
            return self.env._("skipped: another run is fetching this server.")
        if not outcome.fetched and outcome.more:
            return self.env._("not reached within this run's time: the scheduled action runs again at once.")
        text = _counts_text(self.env, outcome.fetched, outcome.routed, outcome.quarantined, outcome.left)
        if outcome.more:
            text += " " + self.env._("More is left: the scheduled action runs again at once.")
        return text

    @api.model
    def _mail_router_run_notification(self, title, mark):
        """The notification of Run Manually on the fetch cron: what the run fetched from
        the servers _fetch_mails fetches, then a line for each server that failed (named,
        with why), was skipped or has more left."""
        servers = self.search([("state", "=", "done"), ("server_type", "!=", "local")])
        outcomes = servers._mail_router_fetch_outcomes(mark)
        if not outcomes:
            return notification(title, self.env._("No incoming mail server is confirmed: nothing was fetched."),
                                "warning")
        lines = [_counts_text(self.env, *(sum(getattr(outcome, name) for outcome in outcomes.values())
                                         for name in ("fetched", "routed", "quarantined", "left")),
                              servers=len(outcomes))]
        lines += [f"{server.name}: {server._mail_router_outcome_text(outcome)}"
                  for server, outcome in outcomes.items() if outcome.error or outcome.skipped or outcome.more]
        return notification(title, "\n".join(lines), _worst_kind([_outcome_kind(o) for o in outcomes.values()]))

    def _mail_router_leave(self, message, reason, error):
        """A message the fetch leaves on the server (neither flagged nor deleted): in the
        log, with the traceback of what its processing raised, and in the Health tab."""
        _logger.error("fetchmail: %s server %s: %s left on the server, neither flagged nor deleted: %s",
                      self.server_type, self.name, message, reason, exc_info=error)
        self.write({"last_left_message": message, "last_left_reason": reason,
                    "last_left_date": fields.Datetime.now()})

    def _mail_router_record_failure(self, message):
        failures = self.consecutive_failures + 1
        self.write({"last_error": message, "last_error_date": fields.Datetime.now(),
                    "consecutive_failures": failures, "last_fetch_count": 0, "fetch_unfinished": False})
        threshold = int(self.env["ir.config_parameter"].sudo().get_param(ALERT_PARAMETER, DEFAULT_ALERT_THRESHOLD))
        if failures == threshold:
            self._mail_router_alert_administrators(message)

    def _mail_router_alert_administrators(self, message):
        """One email to the Settings administrators, when failures reach the threshold."""
        admins = self.env.ref("base.group_system").sudo().users.partner_id.filtered("email")
        if not admins:
            return
        body = self.env._("<p>The incoming mail server <b>%(server)s</b> failed %(count)s times in a row.</p>"
                 "<p>Last error: %(error)s</p><p>No mail is fetched from it until this is fixed: "
                 "Settings &gt; Technical &gt; Email &gt; Incoming Mail Servers.</p>",
                 server=self.name, count=self.consecutive_failures, error=message)
        self.env["mail.mail"].sudo().create({
            "subject": self.env._("Incoming mail server %s is failing", self.name),
            "body_html": body,
            "recipient_ids": [(6, 0, admins.ids)],
            "auto_delete": True,
        })


class _Intake:
    """What drain() calls back during one run of one server: the pipeline, this
    cursor's transaction, the checkpoint's storage (``store``) and the Health tab."""

    def __init__(self, server, store, checkpoint):
        self.server = server
        self.store = store
        self.stored = checkpoint

    def receive(self, raw):
        self.server._mail_router_receive(raw)

    def commit(self, checkpoint):
        if checkpoint != self.stored:
            self.store(checkpoint)
        self.server.env.cr.commit()
        self.stored = checkpoint

    def rollback(self):
        self.server.env.cr.rollback()

    def leave(self, message, reason, error):
        self.server._mail_router_leave(message, reason, error)


def _counts_text(env, fetched, routed, quarantined, left, servers=None):
    counts = {"fetched": fetched, "routed": routed, "quarantined": quarantined, "left": left}
    if servers is None:
        return env._("%(fetched)s fetched (%(routed)s routed, %(quarantined)s quarantined), "
                     "%(left)s left on the server.", **counts)
    return env._("%(fetched)s fetched from %(servers)s server(s) (%(routed)s routed, %(quarantined)s quarantined), "
                 "%(left)s left on the server.", servers=servers, **counts)


def _outcome_kind(outcome):
    """The notification's type: danger for a failure, warning when something needs a look."""
    if outcome.error:
        return "danger"
    if outcome.skipped or outcome.more or outcome.quarantined or outcome.left:
        return "warning"
    return "success"


def _worst_kind(kinds):
    return next((kind for kind in ("danger", "warning") if kind in kinds), "success")


@contextlib.contextmanager
def _closed_on_error(connection, close):
    try:
        yield connection
    except BaseException:
        with contextlib.suppress(Exception):
            close(connection)
        raise

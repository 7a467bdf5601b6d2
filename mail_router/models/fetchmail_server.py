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
import functools
import logging
import time

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import config

from ..fetching import errors, imap, pop3
from ..fetching.drain import Limits, drain
from ..fetching.mailboxes import ImapFolder, Pop3Maildrop
from ..fetching.settings import ConnectionSettings
from .mail_mail import OUTBOX_KEY, Outbox

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
    last_error = fields.Text(readonly=True)
    last_error_date = fields.Datetime(readonly=True)
    consecutive_failures = fields.Integer(readonly=True)
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
        """Test Connection: the cause of a failure in words an administrator can act on."""
        for server in self:
            connection_type = server._get_connection_type()
            if connection_type not in ("imap", "pop"):
                super(FetchmailServer, server).button_confirm_login()
                continue
            try:
                connection = server.connect(allow_archived=True)
                if connection_type == "imap":
                    with _closed_on_error(connection, imap.close):
                        imap.select_folder(connection, server.folder)
                    imap.close(connection)
                else:
                    pop3.quit(connection)
            except Exception as exc:  # every failure becomes a sentence for the administrator
                raise UserError(errors.explain(exc, server._mail_router_settings())) from exc
            server.write({"state": "done"})
        return True

    # ------------------------------------------------------------------
    # Fetching: stock's cron calls _fetch_mails, "Fetch Now" calls fetch_mail
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


@contextlib.contextmanager
def _closed_on_error(connection, close):
    try:
        yield connection
    except BaseException:
        with contextlib.suppress(Exception):
            close(connection)
        raise

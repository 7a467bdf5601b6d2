"""Incoming mail servers, the health half: what the fetch runs did (each a
fetching.run.FetchRun, kept as mail.router.fetch.run), the Health tab, the failure
alert, and what Fetch Now and Run Manually say. The fetching half is fetchmail_server.py.
"""
import ast
import logging
import uuid

from odoo import api, fields, models

from .. import parameters
from ..fetching.run import worst
from ..routing.outcome import QuarantineState
from .fetchmail_server import REQUEST_KEY, fetch_request
from .mail_router_log import notification

_logger = logging.getLogger("odoo.addons.mail_router.fetchmail")


# kept apart from fetchmail_server.py on purpose: connection and drain there, health and UI here
class FetchmailServer(models.Model):
    _inherit = "fetchmail.server"  # pylint: disable=consider-merging-classes-inherited

    last_success_date = fields.Datetime("Last Successful Fetch", readonly=True)
    last_error = fields.Text(
        readonly=True, help="Why the last fetch, or the last Test & Confirm, failed. A success does not clear "
                            "it: compare its date with the Last Successful Fetch.")
    last_error_date = fields.Datetime(readonly=True)
    consecutive_failures = fields.Integer(
        readonly=True, help="Fetches that failed in a row since the last successful one; at the alert threshold "
                            "the Settings administrators get an email. A failed Test & Confirm is not counted: "
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
    fetch_run_ids = fields.One2many("mail.router.fetch.run", "server_id", "Recent Fetches", readonly=True)
    routing_log_count = fields.Integer(compute="_compute_routing_counts")
    quarantine_count = fields.Integer("Waiting in Quarantine", compute="_compute_routing_counts")
    delivery = fields.Selection(
        [("push", "Push"), ("polling", "Polling")], compute="_compute_delivery",
        help="Push: a listener waits on the mailbox (IMAP IDLE) and fetches new mail within seconds; the mailbox "
             "is polled underneath. Polling: the mailbox is fetched at its polling interval.")
    delivery_note = fields.Char("How Mail Arrives", compute="_compute_delivery")
    listening_since = fields.Datetime(compute="_compute_delivery", help="Since when the listener waits on it.")
    last_push_event = fields.Datetime("Last New Mail Announced", compute="_compute_delivery")
    next_fetch = fields.Datetime(related="mail_router_cron_id.nextcall", string="Next Polling Fetch")
    failing = fields.Boolean(
        compute="_compute_failing",
        help="Its last fetch failed, or, not confirmed yet, its last Test & Confirm: the list shows it in red.")
    fetch_cron_inactive_reason = fields.Char(
        "Why Nothing Is Fetched by Itself", compute="_compute_fetch_cron_inactive_reason",
        help="Why the scheduled action Mail: Fetchmail Service is off, and what turns it on.")

    def _compute_routing_counts(self):
        logs = dict(self.env["mail.router.log"]._read_group(
            [("fetchmail_server_id", "in", self.ids)], ["fetchmail_server_id"], ["__count"]))
        waiting = dict(self.env["mail.router.quarantine"]._read_group(
            [("fetchmail_server_id", "in", self.ids), ("state", "=", QuarantineState.PENDING)],
            ["fetchmail_server_id"], ["__count"]))
        for server in self:
            server.routing_log_count = logs.get(server, 0)
            server.quarantine_count = waiting.get(server, 0)

    @api.depends("state", "active", "poll_interval")
    def _compute_delivery(self):
        Listener = self.env["mail.router.listener"].sudo()
        held, running = Listener._held(set(self.ids))
        statuses = {status.server_id.id: status for status in Listener.search([("server_id", "in", self.ids)])}
        for server in self:
            status = statuses.get(server._origin.id)
            every = self.env._("polled every %s min", server.poll_interval)
            listening = server._origin.id in held and status and status.state == "listening"
            server.delivery = "push" if listening else "polling"
            server.listening_since = listening and status.since
            server.last_push_event = status and status.last_event
            if server.server_type == "local":
                server.delivery_note = self.env._("fed by the mailgate script")
            elif not (server.active and server.state == "done"):
                server.delivery_note = self.env._("not confirmed: nothing is fetched")
            elif server._get_connection_type() != "imap":
                server.delivery_note = self.env._("%s: POP3 has no push", every)
            elif listening:
                server.delivery_note = self.env._(
                    "push: new mail is fetched within seconds (by %(owner)s), and %(every)s", owner=status.owner,
                    every=every)
            elif status and server._origin.id in held:
                server.delivery_note = f"{every}: {status.message}"
            elif not running:
                server.delivery_note = self.env._(
                    "%s: push is off, mail_router is not loaded server-wide (start Odoo with "
                    "--load=base,web,mail_router)", every)
            else:
                server.delivery_note = self.env._("%s: the listener takes this server within seconds", every)

    @api.depends("consecutive_failures", "state", "last_error_date", "last_success_date")
    def _compute_failing(self):
        for server in self:
            test_failed = (server.state == "draft" and server.last_error_date
                           and server.last_error_date > (server.last_success_date or server.last_error_date.min))
            server.failing = bool(server.consecutive_failures or test_failed)

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
        action["context"] = {"default_fetchmail_server_id": self.id, "dialog_size": "extra-large"}
        return action

    def _mail_router_action(self, xmlid):
        """The window action ``xmlid`` on this server's entries."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = [("fetchmail_server_id", "=", self.id)]
        action["context"] = dict(ast.literal_eval(action.get("context") or "{}"), default_fetchmail_server_id=self.id)
        return action

    # ------------------------------------------------------------------
    # What a run did
    # ------------------------------------------------------------------

    def _mail_router_record_run(self, run, duration_ms):
        """Keep ``run`` (a FetchRun of this server) and bring the Health tab up to date;
        the Settings administrators are alerted when failures reach the threshold."""
        self.ensure_one()
        self.env["mail.router.fetch.run"].sudo()._keep(run, fetch_request(self.env.context), duration_ms)
        # stock's key: writing the health does not toggle the fetch cron (a search and a
        # write of its row after each run of each mailbox's job)
        server = self.with_context(fetchmail_cron_running=True)
        now = fields.Datetime.now()
        if run.error:
            failures = server.consecutive_failures + 1
            server.write({"last_error": run.error, "last_error_date": now, "consecutive_failures": failures,
                          "last_fetch_count": 0, "fetch_unfinished": False})
            if failures == parameters.FETCH_FAILURE_ALERT_THRESHOLD.read(self.env):
                server._mail_router_alert_administrators(run.error)
        elif run.skipped:
            return
        elif not run.fetched and run.more:  # not reached within the run's budget
            server.fetch_unfinished = True
        else:
            server.write({"date": now, "last_success_date": now, "consecutive_failures": 0,
                          "last_fetch_count": run.fetched, "left_count": run.left, "fetch_unfinished": run.more})

    def _mail_router_leave(self, message, reason, error):
        """A message the fetch leaves on the server (neither flagged nor deleted): in the
        log, with the traceback of what its processing raised, and in the Health tab."""
        _logger.error("fetchmail: %s server %s: %s left on the server, neither flagged nor deleted: %s",
                      self.server_type, self.name, message, reason, exc_info=error)
        self.write({"last_left_message": message, "last_left_reason": reason,
                    "last_left_date": fields.Datetime.now()})

    def _mail_router_alert_administrators(self, message):
        """One email to the Settings administrators, when failures reach the threshold."""
        admins = self.env.ref("base.group_system").sudo().users.partner_id.filtered("email")
        if not admins:
            return
        body = self.env._("<p>The incoming mail server <b>%(server)s</b> failed %(count)s times in a row.</p>"
                          "<p>Last error: %(error)s</p><p>No mail is fetched from it until this is fixed: "
                          "Settings &gt; Mail Routing &gt; Incoming Mail Servers.</p>",
                          server=self.name, count=self.consecutive_failures, error=message)
        self.env["mail.mail"].sudo().create({
            "subject": self.env._("Incoming mail server %s is failing", self.name),
            "body_html": body,
            "recipient_ids": [(6, 0, admins.ids)],
            "auto_delete": True,
        })

    # ------------------------------------------------------------------
    # What Fetch Now and Run Manually say (ir_cron.py)
    # ------------------------------------------------------------------

    def action_fetch_now(self):
        """Fetch Now: fetch_mail, then a notification of what its runs did. A failure is
        told there and kept in the Health tab (raising would only repeat it in a dialog)."""
        request = str(uuid.uuid4())
        self.with_context(**{REQUEST_KEY: request}).fetch_mail(raise_exception=False)
        runs = self._mail_router_runs_of(request)
        if len(runs) == 1:
            [(server, run)] = runs
            return notification(self.env._("Fetch Now: %s", server.name), server._mail_router_run_text(run),
                                run.severity)
        lines = [f"{server.name}: {server._mail_router_run_text(run)}" for server, run in runs]
        return notification(self.env._("Fetch Now"), "\n".join(lines) or self.env._("Nothing to fetch."),
                            worst(run.severity for _server, run in runs))

    @api.model
    def _mail_router_runs_of(self, request):
        """[(server, FetchRun)] of the runs made for the Fetch Now or Run Manually ``request``."""
        self.env.invalidate_all()  # the fetch committed and rolled back on its own
        kept = self.env["mail.router.fetch.run"].sudo().search([("request", "=", request)], order="id")
        return [(entry.server_id, entry._value()) for entry in kept]

    @api.model
    def _mail_router_run_notification(self, title, request):
        """The notification of Run Manually on the fetch cron: what its runs fetched, then
        a line for each server that failed (named, with why), was skipped or has more left."""
        runs = self._mail_router_runs_of(request)
        if not runs:
            return notification(title, self.env._("No incoming mail server is confirmed: nothing was fetched."),
                                "warning")
        totals = {name: sum(getattr(run, name) for _server, run in runs)
                  for name in ("fetched", "routed", "quarantined", "left")}
        servers = len({server for server, _run in runs})
        lines = [self.env._("%(fetched)s fetched from %(servers)s server(s) (%(routed)s routed, %(quarantined)s "
                            "quarantined), %(left)s left on the server.", servers=servers, **totals)]
        lines += [f"{server.name}: {server._mail_router_run_text(run)}"
                  for server, run in runs if run.error or run.skipped or run.more]
        return notification(title, "\n".join(lines), worst(run.severity for _server, run in runs))

    def _mail_router_run_text(self, run):
        if run.error:
            return self.env._("failed: %s", run.error)
        if run.skipped:
            return self.env._("skipped: another run is fetching this server.")
        if not run.fetched and run.more:
            return self.env._("not reached within this run's time: the scheduled action runs again at once.")
        text = self.env._("%(fetched)s fetched (%(routed)s routed, %(quarantined)s quarantined), "
                          "%(left)s left on the server.", fetched=run.fetched, routed=run.routed,
                          quarantined=run.quarantined, left=run.left)
        if run.more:
            text += " " + self.env._("More is left: the scheduled action runs again at once.")
        return text

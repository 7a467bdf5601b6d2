"""Stock's fetch cron, "Mail: Fetchmail Service": Run Manually says what it fetched, and
its form says why it is off when it is."""
from odoo import api, fields, models

from .. import parameters
from .fetchmail_server import progress_request

FETCH_CRON = "mail.ir_cron_mail_gateway_action"


class IrCron(models.Model):
    _inherit = "ir.cron"

    mail_router_inactive_reason = fields.Char(
        "Why It Is Off", compute="_compute_mail_router_inactive_reason",
        help="For Mail: Fetchmail Service only: why it is inactive, and what turns it on.")

    @api.depends("active")
    def _compute_mail_router_inactive_reason(self):
        fetch_cron = self.env.ref(FETCH_CRON, raise_if_not_found=False)
        for cron in self:
            is_off = bool(fetch_cron) and cron._origin == fetch_cron and not cron.active
            cron.mail_router_inactive_reason = is_off and self._mail_router_fetch_cron_off_reason()

    @api.model
    def _mail_router_fetch_cron_inactive_reason(self):
        """Why the fetch cron is off, in a sentence saying what to do; False when it is on."""
        cron = self.env.ref(FETCH_CRON, raise_if_not_found=False)
        return bool(cron) and not cron.active and self._mail_router_fetch_cron_off_reason()

    @api.model
    def _mail_router_fetch_cron_off_reason(self):
        """Stock turns the fetch cron on when a server is confirmed and off when none is
        (fetchmail.server._update_cron, at every create, write and unlink of a server),
        except on a neutralized database; anything else is a hand's doing."""
        if parameters.DATABASE_NEUTRALIZED.read(self.env):
            return self.env._(
                "This database is neutralized (a copy of another): its scheduled actions stay off and "
                "confirming a server does not turn this one on. Turn Active on only if this copy should "
                "fetch the mailboxes.")
        confirmed = self.env["fetchmail.server"].sudo().search_count(
            [("state", "=", "done"), ("server_type", "!=", "local")])
        if not confirmed:
            return self.env._(
                "No active incoming mail server is confirmed: confirm one with Test & Confirm "
                "(Settings > Mail Routing > Incoming Mail Servers) and this scheduled action turns on.")
        return self.env._(
            "It was turned off by hand, although %(count)s incoming mail server(s) are confirmed: turn Active "
            "on (saving an incoming mail server turns it on too).", count=confirmed)

    def method_direct_trigger(self):
        """Run Manually. On the fetch cron, a notification then says what the run fetched
        and which servers failed; other scheduled actions are unchanged."""
        fetch_cron = self.env.ref(FETCH_CRON, raise_if_not_found=False)
        if not fetch_cron or self != fetch_cron:
            return super().method_direct_trigger()
        Progress = self.env["ir.cron.progress"].sudo()
        before = Progress.search([("cron_id", "=", self.id)], order="id desc", limit=1).id or 0
        super().method_direct_trigger()
        # Stock runs the action with a context of its own, a progress record in it; the runs
        # are recorded under that record (fetch_request). Ours is this cron's first after
        # `before`: the cron's lock, held until the fetch's first commit, keeps any other
        # run of it from making one earlier.
        progress = Progress.search([("cron_id", "=", self.id), ("id", ">", before)], order="id", limit=1)
        return self.env["fetchmail.server"]._mail_router_run_notification(self.name, progress_request(progress.id))

import os
import socket

from odoo import api, fields, models

from ..fetching.run import FetchRun


class MailRouterFetchRun(models.Model):
    """One fetch of one incoming mail server, as it ended (fetching.run.FetchRun):
    the server's Health tab lists them, Fetch Now and Run Manually say what theirs did."""

    _name = "mail.router.fetch.run"
    _description = "Incoming Mail Fetch"
    _order = "id desc"
    _rec_name = "server_id"

    server_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    # the Fetch Now or Run Manually that asked for it (a token), to say what it did
    request = fields.Char(index="btree_not_null")
    worker = fields.Char("Odoo Process", help="host:pid of the Odoo server process that fetched.")
    duration_ms = fields.Integer("Duration (ms)")
    fetched = fields.Integer(help="Messages processed and committed: routed, quarantined, or handled "
                                  "(bounces, duplicates, auto-replies...).")
    routed = fields.Integer(help="Messages posted on a record.")
    quarantined = fields.Integer(help="Messages kept in the quarantine.")
    left = fields.Integer("Left on the Server", help="Messages left on the mail server, neither flagged nor "
                                                     "deleted: too large, or their processing failed.")
    more = fields.Boolean("More Left", help="The fetch reached its budget with mail left: the next one goes on.")
    error = fields.Text(help="Why the fetch failed.")
    skipped = fields.Boolean(help="Another process was fetching this server: nothing was done.")

    @api.model
    def _keep(self, run, request, duration_ms):
        return self.create({
            "server_id": run.server_id, "request": request, "worker": f"{socket.gethostname()}:{os.getpid()}",
            "duration_ms": duration_ms, "fetched": run.fetched,
            "routed": run.routed, "quarantined": run.quarantined, "left": run.left, "more": run.more,
            "error": run.error or False, "skipped": run.skipped,
        })

    def _value(self):
        self.ensure_one()
        return FetchRun(self.server_id.id, fetched=self.fetched, routed=self.routed, quarantined=self.quarantined,
                        left=self.left, more=self.more, error=self.error or "", skipped=self.skipped)

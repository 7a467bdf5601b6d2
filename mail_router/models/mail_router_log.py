from odoo import fields, models

ROUTING_STAGES = [
    ("in_reply_to", "In-Reply-To"),
    ("references", "References"),
    ("alias", "Alias"),
    ("record_address", "Record address (alias+id)"),
    ("catchall_default", "Catchall: default model"),
    ("quarantine", "Quarantine"),
    ("bounce", "Bounce"),
    ("duplicate", "Duplicate"),
    ("loop", "Loop"),
    ("auto_reply", "Auto-reply dropped"),
    ("throttled", "Throttled"),
]


class MailRouterLog(models.Model):
    """One entry per incoming message: the routing decision and why it was taken.

    It is also the ledger that makes processing exactly-once: a Message-ID with an
    entry is not processed again.
    """

    _name = "mail.router.log"
    _description = "Mail Routing Log"
    _order = "id desc"
    _rec_name = "message_id"

    fetchmail_server_id = fields.Many2one(
        "fetchmail.server", "Incoming Server", ondelete="set null", index="btree_not_null")
    message_id = fields.Char("Message-ID", required=True, index=True)
    email_from = fields.Char("From")
    email_to = fields.Char("To")
    subject = fields.Char()
    stage = fields.Selection(ROUTING_STAGES, required=True, index=True)
    matched = fields.Char("Matched Value", help="The header value that decided the route.")
    reason = fields.Char()
    target_model = fields.Char("Target Model")
    target_res_ids = fields.Char("Target Record IDs", help="Comma-separated, several when several aliases matched.")
    alias_id = fields.Many2one("mail.alias", "Alias", ondelete="set null")
    mail_message_id = fields.Many2one("mail.message", "Created Message", ondelete="set null")
    duration_ms = fields.Integer("Duration (ms)")

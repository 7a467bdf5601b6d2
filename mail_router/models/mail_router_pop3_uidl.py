from odoo import api, fields, models


class MailRouterPop3Uidl(models.Model):
    """A POP3 message (by UIDL) committed but maybe not yet deleted on the server:
    DELE takes effect only at QUIT, which a crash may prevent."""

    _name = "mail.router.pop3.uidl"
    _description = "POP3 Message Processed"
    _rec_name = "uidl"

    server_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    uidl = fields.Char("UIDL", required=True)

    _sql_constraints = [
        ("server_uidl_unique", "UNIQUE(server_id, uidl)", "A UIDL is processed once per server."),
    ]

    @api.model
    def _prune(self, server, listed):
        """The UIDLs of ``server`` processed and still ``listed`` on it; forget the others."""
        records = self.search([("server_id", "=", server.id)])
        gone = records.filtered(lambda record: record.uidl not in listed)
        gone.unlink()
        return set((records - gone).mapped("uidl"))

from odoo import api, fields, models

from ..fetching.mailboxes import Pop3Checkpoint


class MailRouterPop3Uidl(models.Model):
    """A POP3 message (by UIDL) still in the maildrop that fetching has passed:
    committed but maybe not yet deleted (DELE takes effect only at QUIT, which a
    crash may prevent), or left on the server, never to be taken again."""

    _name = "mail.router.pop3.uidl"
    _description = "POP3 Message Processed"
    _rec_name = "uidl"

    server_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    uidl = fields.Char("UIDL", required=True)
    state = fields.Selection(
        [("done", "Processed"), ("left", "Left on the server")], required=True, default="done",
        help="Processed: deleted again if the server still has it. Left on the server: its processing "
             "failed or it is too large; never deleted, never fetched again.")

    _sql_constraints = [
        ("server_uidl_unique", "UNIQUE(server_id, uidl)", "A UIDL is processed once per server."),
    ]

    @api.model
    def _checkpoint(self, server):
        records = self.search([("server_id", "=", server.id)])
        return Pop3Checkpoint(
            done=frozenset(records.filtered(lambda record: record.state == "done").mapped("uidl")),
            left=frozenset(records.filtered(lambda record: record.state == "left").mapped("uidl")))

    @api.model
    def _store(self, server, checkpoint):
        """Make the records of ``server`` hold ``checkpoint``."""
        wanted = {uidl: "done" for uidl in checkpoint.done} | {uidl: "left" for uidl in checkpoint.left}
        records = self.search([("server_id", "=", server.id)])
        known = set(records.mapped("uidl"))
        records.filtered(lambda record: record.uidl not in wanted).unlink()
        self.create([{"server_id": server.id, "uidl": uidl, "state": state}
                     for uidl, state in wanted.items() if uidl not in known])

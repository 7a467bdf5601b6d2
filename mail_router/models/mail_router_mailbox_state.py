from odoo import api, fields, models


class MailRouterMailboxState(models.Model):
    """Where fetching stands in one IMAP folder of one server."""

    _name = "mail.router.mailbox.state"
    _description = "IMAP Folder Fetch State"
    _rec_name = "folder"

    server_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    folder = fields.Char(required=True)
    uidvalidity = fields.Integer("UIDVALIDITY", help="When the server changes it, UIDs start over.")
    last_uid = fields.Integer("Last UID Processed")

    _sql_constraints = [
        ("server_folder_unique", "UNIQUE(server_id, folder)", "One state per server and folder."),
    ]

    @api.model
    def _for(self, server, folder):
        return self.search([("server_id", "=", server.id), ("folder", "=", folder)]) or self.create(
            {"server_id": server.id, "folder": folder})

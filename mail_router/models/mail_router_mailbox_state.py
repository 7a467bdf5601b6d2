from odoo import api, fields, models

from ..fetching.mailboxes import ImapCheckpoint


class UidInteger(fields.Integer):
    """An IMAP UID or UIDVALIDITY: unsigned 32-bit (up to 4294967295), beyond
    PostgreSQL's int4. An existing int4 column is converted at the upgrade."""

    _column_type = ("int8", "int8")


class MailRouterMailboxState(models.Model):
    """Where fetching stands in one IMAP folder of one server."""

    _name = "mail.router.mailbox.state"
    _description = "IMAP Folder Fetch State"
    _rec_name = "folder"

    server_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True)
    folder = fields.Char(required=True)
    uidvalidity = UidInteger("UIDVALIDITY", help="When the server changes it, UIDs start over.")
    last_uid = UidInteger("Last UID Processed")

    _sql_constraints = [
        ("server_folder_unique", "UNIQUE(server_id, folder)", "One state per server and folder."),
    ]

    @api.model
    def _checkpoint(self, server, folder):
        state = self._of(server, folder)
        return ImapCheckpoint(state.uidvalidity or None, state.last_uid)

    @api.model
    def _store(self, server, folder, checkpoint):
        values = {"uidvalidity": checkpoint.uidvalidity, "last_uid": checkpoint.last_uid}
        state = self._of(server, folder)
        if state:
            state.write(values)
        else:
            self.create({"server_id": server.id, "folder": folder, **values})

    @api.model
    def _of(self, server, folder):
        return self.search([("server_id", "=", server.id), ("folder", "=", folder)])

import base64

from odoo import api, fields, models


class MailRouterRawMixin(models.AbstractModel):
    """An incoming mail kept byte for byte, downloadable as an .eml file."""

    _name = "mail.router.raw.mixin"
    _description = "Incoming Mail Kept Byte for Byte"

    message_id = fields.Char("Message-ID", required=True, index=True)
    raw = fields.Binary("Raw Message", attachment=True, readonly=True, help="The message exactly as received.")
    raw_filename = fields.Char(compute="_compute_raw_filename")

    @api.depends("message_id")
    def _compute_raw_filename(self):
        for entry in self:
            entry.raw_filename = f"{(entry.message_id or 'mail').strip('<>')}.eml"

    def raw_bytes(self):
        self.ensure_one()
        return base64.b64decode(self.with_context(bin_size=False).raw or b"")

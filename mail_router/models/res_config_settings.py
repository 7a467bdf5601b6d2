from odoo import fields, models

from .base import REPLY_TO_STYLE_PARAMETER, REPLY_TO_STYLES
from .mail_thread import TRUSTED_AUTHSERV_PARAMETER


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    mail_router_reply_to_style = fields.Selection(
        REPLY_TO_STYLES, string="Reply-To of Record Mail", default="catchall", required=True,
        config_parameter=REPLY_TO_STYLE_PARAMETER,
        help="Catchall: stock's Reply-To, the catchall address. Record address: a signed address naming "
             "the record (purchase+123-<signature>@yourdomain.com), so that a reply reaches the record even "
             "when the mail client drops In-Reply-To and References. The mail server must deliver "
             "plus-addressed mail to the base mailbox.")
    mail_router_trusted_authserv_ids = fields.Char(
        "Trusted Authentication Servers", config_parameter=TRUSTED_AUTHSERV_PARAMETER,
        help="Comma-separated authserv-ids of your receiving mail servers (e.g. mx.example.com), as they "
             "write them in Authentication-Results. When set, a sender posts through an unsigned record "
             "address only if that server saw DMARC (or an aligned DKIM or SPF) pass for their From.")

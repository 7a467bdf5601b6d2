from odoo import api, models


class PurchaseOrder(models.Model):
    _inherit = "purchase.order"

    @api.model
    def message_new(self, msg_dict, custom_values=None):
        """An offer or a request from a vendor: a draft RFQ with the sender as vendor."""
        return self._mail_router_create_for_sender(msg_dict, custom_values)

    def _mail_router_reference_field(self):
        """P00012, in the subject of the RFQ and of the order sent: a mail naming it reaches the order."""
        return "name"

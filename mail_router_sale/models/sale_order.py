from odoo import api, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    @api.model
    def message_new(self, msg_dict, custom_values=None):
        """A request for a quotation: a draft quotation with the sender as customer."""
        return self._mail_router_create_for_sender(msg_dict, custom_values)

    def _mail_router_reference_field(self):
        """S00034, in the subject of the quotation and of the order sent: a mail naming it reaches the order."""
        return "name"

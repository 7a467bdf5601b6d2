from odoo import api, models

from ..routing.chain import Decision, Target
from .mail_thread import DECISION_KEY

# Context key of a route chosen by an administrator: (model, res_id).
ROUTE_TO_KEY = "mail_router_route_to"


# Apart from mail_thread.py, the gateway's pipeline: this only swaps its decision.
class MailThread(models.AbstractModel):
    """Route to... from the quarantine: the record an administrator chose, instead of
    the chain's decision, through the same pipeline (containment, post, routing log)."""

    _inherit = "mail.thread"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def message_route(self, message, message_dict, model=None, thread_id=None, custom_values=None):
        chosen = self.env.context.get(ROUTE_TO_KEY)
        if not chosen:
            return super().message_route(message, message_dict, model, thread_id, custom_values)
        self._mail_router_check_gateway_access()
        model, res_id = chosen
        if not self.env[model].browse(res_id).exists():
            # stock's check would create a new record instead
            raise ValueError(f"{model},{res_id} no longer exists")
        # no alias: the contact policy is the administrator's choice; the record must exist and take mail
        route = self.env[model]._routing_check_route(
            message, message_dict, (model, res_id, custom_values, self.env.uid, self.env["mail.alias"]))
        message_dict[DECISION_KEY] = Decision(
            "manual", (Target(model, res_id),), None,
            f"routed by hand from the quarantine by {self.env.user.name} to {model},{res_id}")
        return [route]

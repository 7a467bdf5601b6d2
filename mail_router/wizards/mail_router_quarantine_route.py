from odoo import fields, models

from ..models.mail_router_log import routable_models


class MailRouterQuarantineRoute(models.TransientModel):
    """Route to...: post quarantined mail on the record an administrator chooses."""

    _name = "mail.router.quarantine.route"
    _description = "Route Quarantined Mail to a Record"

    quarantine_ids = fields.Many2many("mail.router.quarantine", string="Mail", required=True)
    target = fields.Reference(selection=routable_models, string="Record", required=True,
                              help="The mail is posted on its chatter, as if it had been a reply to it. The kinds "
                                   "of records listed first are those that get the most mail.")

    def action_route(self):
        self.ensure_one()
        logs = self.quarantine_ids._route_to(self.target)
        return logs._notification(logs._title(self.env._("Routed to %s", self.target.display_name),
                                              self.env._("Not routed: still in quarantine")))

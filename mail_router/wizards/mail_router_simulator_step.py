from odoo import fields, models


class MailRouterSimulatorStep(models.TransientModel):
    """One stage of the routing chain, as the simulator ran it on a mail."""

    _name = "mail.router.simulator.step"
    _description = "Mail Routing Simulator Step"
    _order = "sequence"

    simulator_id = fields.Many2one("mail.router.simulator", required=True, ondelete="cascade")
    sequence = fields.Integer()
    stage = fields.Char(required=True, help="The name of the stage in the code (routing/chain.py, admission.py).")
    label = fields.Char("Stage", help="The stage, as the routing log calls it.")
    looked_at = fields.Char()
    outcome = fields.Selection(
        [("decided", "Decided"), ("no_match", "No match"), ("passed", "Passed"), ("not_reached", "Not reached")],
        required=True, help="Decided: this stage made the verdict. No match: a stage of the chain that did not "
                            "decide (its result says why, when it found something). Passed: a stage of admission "
                            "that let the mail through. Not reached: an earlier stage decided.")
    result = fields.Char(help="Why the stage decided as it did.")

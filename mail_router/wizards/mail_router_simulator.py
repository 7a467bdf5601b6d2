import base64

from odoo import api, fields, models

from ..models.mail_router_log import ROUTING_STAGES, mail_thread_models
from ..models.routing_lookup import RoutingLookup
from ..routing import admission, chain
from ..routing.admission import looked_at
from ..routing.incoming import read_mail
from ..routing.outcome import Cause, Outcome, advice, step_label


class MailRouterSimulator(models.TransientModel):
    """Where would this mail go, and why? The gateway's judge (the routing chain, then
    admission) run on a pasted mail, stage by stage, without posting it, claiming it in
    the ledger or logging it."""

    _name = "mail.router.simulator"
    _description = "Mail Routing Simulator"

    raw_message = fields.Text(help="The mail with all its headers, as received (.eml source).")
    raw_file = fields.Binary("Upload an .eml File")
    raw_filename = fields.Char()
    fetchmail_server_id = fields.Many2one(
        "fetchmail.server", "As Fetched By",
        help="The incoming mail server whose default model (Create a New Record) the catchall stage would use.")
    retry = fields.Boolean(
        "As Retry", help="Simulate Retry or Route Again on a kept mail: the ledger, which has its Message-ID, "
                         "is not consulted.")
    simulated = fields.Boolean(readonly=True)
    stage = fields.Selection(ROUTING_STAGES, readonly=True, help="The stage that decides, as in the routing log.")
    reason = fields.Char(readonly=True)
    advice = fields.Char("What to Do", readonly=True)
    matched = fields.Char("Matched Value", readonly=True)
    target = fields.Reference(selection=mail_thread_models, readonly=True,
                              help="The existing record the mail would be posted on.")
    target_description = fields.Char("Would Reach", readonly=True)
    step_ids = fields.One2many("mail.router.simulator.step", "simulator_id", "Trace", readonly=True)

    @api.onchange("raw_file")
    def _onchange_raw_file(self):
        if self.raw_file:
            # an .eml file may hold 8-bit bytes in any charset: shown as text, unreadable ones replaced
            self.raw_message = base64.b64decode(self.raw_file).decode("utf-8", errors="replace")

    @api.model
    def _action_open(self, raw, server, retry=False):
        """The simulator on ``raw`` (bytes kept by the log or the quarantine), already simulated."""
        simulator = self.create({"raw_message": raw.decode("utf-8", errors="replace"),
                                 "fetchmail_server_id": server.id, "retry": retry})
        return simulator.action_simulate()

    def action_simulate(self):
        """Decide as the gateway would today, and show it; nothing is written but this wizard."""
        self.ensure_one()
        message, mail, unreadable = read_mail((self.raw_message or "").encode("utf-8"))
        if unreadable:
            self._show([], Outcome.QUARANTINE, f"the mail cannot be parsed: {unreadable}", cause=Cause.UNREADABLE)
        elif not self.retry and self._already_processed(mail.message_id):
            self._show([], Outcome.DUPLICATE, "a mail with this Message-ID was already processed: it would be skipped")
        else:
            Thread = self.env["mail.thread"]
            lookup = RoutingLookup(self.env, message, mail)
            steps = admission.trace(mail, lookup, lookup, Thread._mail_router_codec(),
                                    Thread._mail_router_config(self.fetchmail_server_id.object_id.model))
            self._show(self._step_values(mail, steps), *self._outcome(steps[-1][1]))
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Routing Simulator"),
            "context": {"dialog_size": "extra-large"},
        }

    def _already_processed(self, message_id):
        """As the ledger's claim decides it, read only."""
        return bool(self.env["mail.router.ledger"].sudo().search_count([("message_id", "=", message_id)], limit=1)
                    or self.env["mail.message"].sudo().search_count([("message_id", "=", message_id)], limit=1))

    def _outcome(self, decision):
        """(stage, reason, matched, target record, what it would reach, cause) of the deciding stage."""
        target = next(iter(decision.targets), None)
        record = self.env[target.model].browse(target.res_id) if target and target.res_id else None
        reached = ", ".join(
            self.env[t.model].browse(t.res_id).display_name if t.res_id
            else self.env._("a new %(model)s", model=self.env["ir.model"]._get(t.model).name)
            for t in decision.targets)
        return decision.stage, decision.reason, decision.matched, record, reached, decision.cause

    def _step_values(self, mail, steps):
        """One trace line per stage of the chain, then of admission: the ones run, and
        those not reached."""
        run = dict(steps)
        admitting = {stage.__name__ for stage in admission.STAGES}
        stages = [stage.__name__ for stage in chain.STAGES + admission.STAGES]
        return [{
            "sequence": sequence,
            "stage": stage,
            "label": step_label(stage),
            "looked_at": looked_at(stage, mail),
            "outcome": ("not_reached" if stage not in run else "decided" if isinstance(run[stage], chain.Decision)
                        else "passed" if stage in admitting else "no_match"),
            # a stage of the chain that found something and did not act on it says why (chain.Pass)
            "result": run.get(stage) and run[stage].reason,
        } for sequence, stage in enumerate(stages)]

    def _show(self, step_values, stage, reason, matched=None, record=None, reached=None, cause=None):
        self.step_ids.unlink()
        self.write({
            "simulated": True,
            "stage": stage,
            "reason": reason,
            "advice": advice(stage, cause),
            "matched": matched,
            "target": record and f"{record._name},{record.id}",
            "target_description": reached,
            "step_ids": [fields.Command.create(values) for values in step_values],
        })

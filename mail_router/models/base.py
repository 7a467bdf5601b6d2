from odoo import models
from odoo.tools import email_normalize

from .. import parameters

REPLY_TO_STYLES = [("catchall", "Catchall address (stock)"), ("record", "Record address, signed")]


class Base(models.AbstractModel):
    _inherit = "base"

    def _notify_get_reply_to(self, default=None):
        """Stock's Reply-To; with the 'record' style (mail_router.reply_to_style), a record
        whose Reply-To is its company's catchall gets a signed address naming it instead:
        ``<alias>+<id>-<signature>@`` on an alias of its model, else
        ``<catchall>+<model>-<id>-<signature>@``, with stock's display name. A reply then
        routes even when the mail client dropped In-Reply-To and References. A record with
        an alias of its own (a project, a sales team) keeps it, as in stock."""
        reply_to = super()._notify_get_reply_to(default=default)
        style = parameters.REPLY_TO_STYLE.read(self.env)
        if style != "record" or not self.ids or self._name == "mail.thread":
            return reply_to
        records = self.sudo()
        companies = records._mail_get_companies(default=self.env.company)
        alias_names = self._mail_router_alias_names()
        codec = self.env["mail.thread"]._mail_router_codec()
        for record in records:
            company = companies[record.id]
            domain = company.alias_domain_id
            if not domain or email_normalize(reply_to.get(record.id) or "") != domain.catchall_email:
                continue
            alias_name = alias_names.get(domain.id)
            local = (f"{alias_name}+{codec.record_address_tag(self._name, record.id)}" if alias_name
                     else f"{domain.catchall_alias}+{codec.catchall_address_tag(self._name, record.id)}")
            reply_to[record.id] = self._notify_get_reply_to_formatted_email(
                f"{local}@{domain.name}", record.display_name, company=company)
        return reply_to

    def _mail_router_refusal(self, message, message_dict):
        """Why this model (a new record: ``self`` is empty) takes no such mail, by a rule
        of its own, or None. Admission asks it (routing.admission, contact_policy), so
        the simulator knows it too; a module whose _routing_check_route refuses mail
        should say so here as well (mail_router_account does)."""
        return None

    def _mail_router_reference_field(self):
        """The field whose value is this model's reference to its records as people write
        it in a Subject (an order's ``name``: P00012), or None. A model that declares one
        receives mail whose Subject names one of its records (the subject_reference
        stage); the field must be stored. mail_router_purchase, _sale and _account
        declare ``name``."""
        return None

    def _mail_router_alias_names(self):
        """{alias domain id: name of the first alias of this model there}: the aliases
        that create records of the model (not those of a parent record, like a project's)."""
        aliases = self.env["mail.alias"].sudo().search([
            ("alias_model_id.model", "=", self._name), ("alias_name", "!=", False),
            ("alias_domain_id", "!=", False), ("alias_parent_thread_id", "=", False),
        ], order="id")
        names = {}
        for alias in aliases:
            names.setdefault(alias.alias_domain_id.id, alias.alias_name)
        return names

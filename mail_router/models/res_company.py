from odoo import api, models


class ResCompany(models.Model):
    _inherit = "res.company"

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        # routing's configuration (mail.thread, cached) knows which companies each alias domain serves
        self.env.registry.clear_cache()
        return companies

    def write(self, vals):
        # the domain of the Message-IDs (mail.message, cached), the companies of an alias domain (mail.thread)
        if "alias_domain_id" in vals:
            self.env.registry.clear_cache()
        return super().write(vals)

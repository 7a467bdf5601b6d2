from odoo import models


class ResCompany(models.Model):
    _inherit = "res.company"

    def write(self, vals):
        if "alias_domain_id" in vals:  # the domain of the Message-IDs (mail.message, cached)
            self.env.registry.clear_cache()
        return super().write(vals)

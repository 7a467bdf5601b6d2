from odoo import models


class MailAliasDomain(models.Model):
    _inherit = "mail.alias.domain"

    def write(self, vals):
        if "name" in vals:  # the domain of the Message-IDs (mail.message, cached)
            self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

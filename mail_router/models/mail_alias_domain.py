from odoo import api, models

# what mail.message caches (the Message-ID domain) and mail.thread (routing's addresses) read
CACHED_FIELDS = {"name", "catchall_alias", "bounce_alias", "default_from"}


class MailAliasDomain(models.Model):
    _inherit = "mail.alias.domain"

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        if CACHED_FIELDS & set(vals):
            self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

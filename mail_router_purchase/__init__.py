from . import models

from odoo.addons.mail_router.hooks import create_seed_alias


def post_init_hook(env):
    """The spec's purchase@ alias, creating RFQs."""
    create_seed_alias(env, "purchase", "purchase.order")

"""The database side of the routing chain: routing.chain.Lookup over the ORM.

One query answers all In-Reply-To and References ids together, one the aliases.
"""
from odoo.tools import email_normalize
from odoo.tools.sql import escape_psql

from ..routing.chain import Alias, Target
from ..routing.headers import split_address


class RoutingLookup:
    def __init__(self, env):
        self.env = env(su=True)

    def threads_by_message_ids(self, message_ids):
        # Stock ignores its own 'reply_to' ids: they name no thread.
        wanted = [mid for mid in message_ids if "reply_to" not in mid]
        if not wanted:
            return {}
        self.env["mail.message"].flush_model(["message_id", "model", "res_id"])
        self.env.cr.execute(
            """SELECT DISTINCT ON (message_id) message_id, model, res_id, id
                 FROM mail_message
                WHERE message_id = ANY(%s) AND model IS NOT NULL AND res_id IS NOT NULL AND res_id != 0
             ORDER BY message_id, id DESC""",
            [wanted],
        )
        return {
            message_id: Target(model, res_id, parent_id=message_db_id)
            for message_id, model, res_id, message_db_id in self.env.cr.fetchall()
        }

    def record_exists(self, model, res_id):
        return model in self.env and bool(self.env[model].browse(res_id).exists())

    def aliases_for(self, addresses):
        local_parts = list({split_address(address)[0] for address in addresses})
        aliases = self.env["mail.alias"].search([
            "|", ("alias_full_name", "in", list(addresses)),
            "&", ("alias_name", "in", local_parts),
            "|", ("alias_incoming_local", "=", True), ("alias_domain_id", "=", False),
        ])
        return [
            Alias(
                id=alias.id,
                name=alias.alias_name,
                domain=alias.alias_domain or None,
                model=alias.alias_model_id.model,
                force_thread_id=alias.alias_force_thread_id or None,
                incoming_local=alias.alias_incoming_local,
            )
            for alias in aliases
        ]

    def sender_known_to(self, model, res_id, email):
        if not self.record_exists(model, res_id):
            return False
        record = self.env[model].browse(res_id)
        email = email_normalize(email)
        if not email:
            return False
        # a model that receives mail without being a mail.thread (mail.group) has neither
        partners = record.message_partner_ids if "message_partner_ids" in record else self.env["res.partner"]
        if hasattr(record, "_mail_get_partners"):
            partners |= record._mail_get_partners()[record.id]
        if email in partners.mapped("email_normalized"):
            return True
        # email_from holds 'Name <address>' as the sender wrote it: compared as text,
        # case aside, never as a pattern ('%@%' is a valid address).
        address = escape_psql(email)
        return bool(self.env["mail.message"].search_count([
            ("model", "=", model), ("res_id", "=", res_id),
            "|", "|", ("author_id.email_normalized", "=", email),
            ("email_from", "=ilike", address), ("email_from", "=ilike", f"%<{address}>"),
        ], limit=1))

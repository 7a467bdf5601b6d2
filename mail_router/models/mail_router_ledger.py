from datetime import timedelta

from odoo import api, fields, models

from .. import parameters


class MailRouterLedger(models.Model):
    """The Message-IDs of every incoming mail processed, once each: exactly once.

    The unique key, not a SELECT, makes it hold across processes: the second of two
    transactions claiming the same id waits for the first; when the first commits, the
    second fails to serialize (Odoo's transactions are REPEATABLE READ), and its retry, in
    a new transaction, finds the id taken.
    """

    _name = "mail.router.ledger"
    _description = "Incoming Mail Ledger"
    _order = "id desc"
    _rec_name = "message_id"

    message_id = fields.Char("Message-ID", required=True, readonly=True)
    fetchmail_server_id = fields.Many2one("fetchmail.server", "Incoming Server", ondelete="set null", readonly=True)

    _sql_constraints = [
        ("message_id_unique", "UNIQUE(message_id)", "A Message-ID is processed once."),
    ]

    @api.model
    def _claim(self, message_id, server_id):
        """Whether this transaction is the first to process ``message_id``: False when the
        ledger has it (committed, or claimed by a transaction that then commits), or a
        stored message has it (posted by stock Odoo, or sent by us)."""
        self.env["mail.message"].flush_model(["message_id"])
        self.env.cr.execute(
            """INSERT INTO mail_router_ledger (message_id, fetchmail_server_id, create_uid, write_uid,
                                               create_date, write_date)
               SELECT %(id)s, %(server)s, %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
                WHERE NOT EXISTS (SELECT 1 FROM mail_message WHERE message_id = %(id)s)
               ON CONFLICT (message_id) DO NOTHING
               RETURNING id""",
            {"id": message_id, "server": server_id,
             "uid": self.env.uid},
            # A concurrent claim that committed first is a serialization failure here
            # (REPEATABLE READ): the fetcher retries the mail, which is then a duplicate.
            log_exceptions=False)
        return bool(self.env.cr.fetchone())

    @api.model
    def _gc_ledger(self):
        # Longer than any mailbox keeps mail for a redelivery (a restored backup, a server
        # that forgets its flags): a Message-ID seen within this time is never processed twice.
        days = parameters.LEDGER_RETENTION_DAYS.read(self.env)
        self.search([("create_date", "<", fields.Datetime.now() - timedelta(days=days))]).unlink()

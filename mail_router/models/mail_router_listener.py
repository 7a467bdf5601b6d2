from odoo import api, fields, models

from ..listener import LISTEN_LOCK, LISTENER_LOCK

STATES = [
    ("listening", "Listening"),
    ("polling", "Polled: no IDLE"),
    ("reconnecting", "Reconnecting"),
]


class MailRouterListener(models.Model):
    """How the push listener stands with one incoming mail server (listener.py): written
    by the listener, read by the server's form. Whether a listener holds the mailbox now
    is PostgreSQL's to say (its advisory lock), not this record's."""

    _name = "mail.router.listener"
    _description = "Push Listener of an Incoming Mail Server"
    _rec_name = "server_id"

    server_id = fields.Many2one("fetchmail.server", required=True, ondelete="cascade", index=True, readonly=True)
    state = fields.Selection(STATES, readonly=True)
    owner = fields.Char("Odoo Process", readonly=True, help="host:pid of the Odoo server process listening.")
    since = fields.Datetime(readonly=True)
    last_event = fields.Datetime("Last New Mail", readonly=True, help="When the mail server last announced new mail.")
    message = fields.Char(readonly=True)

    _sql_constraints = [("server_unique", "UNIQUE(server_id)", "One listener status per server.")]

    @api.model
    def _report(self, server_id, state, message, owner, event=False):
        """Upsert the status of ``server_id``'s listener: its state changed (since: now),
        or new mail came (last_event: now)."""
        self.env.cr.execute("""
            INSERT INTO mail_router_listener (server_id, state, owner, since, last_event, message,
                                              create_uid, write_uid, create_date, write_date)
            VALUES (%(server)s, %(state)s, %(owner)s, now() at time zone 'UTC',
                    CASE WHEN %(event)s THEN now() at time zone 'UTC' END, %(message)s,
                    %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC')
            ON CONFLICT (server_id) DO UPDATE SET
                since = CASE WHEN mail_router_listener.state IS DISTINCT FROM EXCLUDED.state
                               OR mail_router_listener.owner IS DISTINCT FROM EXCLUDED.owner
                             THEN EXCLUDED.since ELSE mail_router_listener.since END,
                last_event = COALESCE(EXCLUDED.last_event, mail_router_listener.last_event),
                state = EXCLUDED.state, owner = EXCLUDED.owner, message = EXCLUDED.message,
                write_date = EXCLUDED.write_date""",
            {"server": server_id, "state": state, "owner": owner, "event": event, "message": message or None,
             "uid": self.env.uid})
        self.invalidate_model()

    @api.model
    def _held(self, server_ids):
        """(ids of the servers a listener holds now, whether any listener runs at all)."""
        self.env.cr.execute("""
            SELECT classid, objid FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database
                                                                      WHERE datname = current_database())
               AND classid IN (%s, %s)""", [LISTEN_LOCK, LISTENER_LOCK])
        rows = self.env.cr.fetchall()
        held = {objid for classid, objid in rows if classid == LISTEN_LOCK and objid in server_ids}
        return held, any(classid == LISTENER_LOCK for classid, _objid in rows)

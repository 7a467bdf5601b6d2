from odoo import fields, models, tools

from ..routing.outcome import QUARANTINED, ROUTED


class MailRouterFlowReport(models.Model):
    """Mail Flow: the routing log per day and incoming server, to see at a glance that
    mail flows (how much came, where it went, how long it waited after it arrived).

    A view over mail.router.log because the delay's median and 95th percentile are not
    sums or averages the ORM's read_group can make of the log's rows.
    """

    _name = "mail.router.flow.report"
    _description = "Mail Flow"
    _auto = False
    _order = "date desc"
    _rec_name = "date"

    date = fields.Date(readonly=True)
    fetchmail_server_id = fields.Many2one("fetchmail.server", "Incoming Server", readonly=True)
    mail_count = fields.Integer("Mails", readonly=True)
    routed_count = fields.Integer("Posted", readonly=True, help="Posted on a record, by the chain or by hand.")
    quarantined_count = fields.Integer("Quarantined", readonly=True, help="Kept in the quarantine, refused or failed.")
    other_count = fields.Integer(
        "Not Posted", readonly=True, help="Bounces, loops, auto-replies, duplicates, throttled and discarded mail.")
    delay_median_s = fields.Float(
        "Delay, Median (s)", readonly=True, aggregator="max", digits=(16, 1),
        help="From the mail's arrival on the incoming mail server (IMAP INTERNALDATE) to the end of its routing. "
             "Over several days or servers, the highest of theirs.")
    delay_p95_s = fields.Float(
        "Delay, 95th Percentile (s)", readonly=True, aggregator="max", digits=(16, 1),
        help="95 mails in 100 waited no longer. Over several days or servers, the highest of theirs.")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(f"""
            CREATE VIEW {self._table} AS (
                SELECT row_number() OVER (ORDER BY day, server) AS id,
                       day AS date, server AS fetchmail_server_id, mail_count, routed_count,
                       quarantined_count, mail_count - routed_count - quarantined_count AS other_count,
                       delay_median_s, delay_p95_s
                  FROM (
                    SELECT create_date::date AS day, fetchmail_server_id AS server,
                           count(*) AS mail_count,
                           count(*) FILTER (WHERE stage = ANY(%(routed)s)) AS routed_count,
                           count(*) FILTER (WHERE stage = ANY(%(quarantined)s)) AS quarantined_count,
                           percentile_cont(0.5) WITHIN GROUP (ORDER BY delay_ms) / 1000.0 AS delay_median_s,
                           percentile_cont(0.95) WITHIN GROUP (ORDER BY delay_ms) / 1000.0 AS delay_p95_s
                      FROM mail_router_log
                     GROUP BY 1, 2
                  ) flow
            )""", {"routed": [stage.value for stage in ROUTED], "quarantined": [stage.value for stage in QUARANTINED]})

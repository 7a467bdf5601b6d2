"""Every system parameter mail_router reads: its key, its default, how its text reads.

The settings form (models/res_config_settings.py), the routing configuration
(models/mail_thread.py) and the fetcher read them through here only. Stock's own
parameters that routing follows are here too, under stock's keys.
"""
import logging
from collections.abc import Callable
from dataclasses import dataclass

_logger = logging.getLogger("odoo.addons.mail_router")


def comma_separated(text):
    return tuple(filter(None, (item.strip() for item in text.split(","))))


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise ValueError(f"{value} is not positive")
    return value


@dataclass(frozen=True)
class Parameter:
    key: str
    default: object
    parse: Callable[[str], object] = str

    def read(self, env):
        """The value in ``env``'s database; the default when it is unset, or when an
        administrator wrote what cannot be read (logged, so that it can be fixed)."""
        text = env["ir.config_parameter"].sudo().get_param(self.key)
        if not text:
            return self.default
        try:
            return self.parse(text)
        except ValueError as exc:
            _logger.warning("system parameter %s = %r cannot be read (%s): %r is used instead",
                            self.key, text, exc, self.default)
            return self.default


# The secret that signs Message-IDs and record addresses (routing.message_id), made at install.
MESSAGE_ID_SECRET = Parameter("mail_router.message_id_secret", "")
# authserv-ids of our receiving mail servers, whose Authentication-Results are believed
TRUSTED_AUTHSERV_IDS = Parameter("mail_router.trusted_authserv_ids", (), comma_separated)
# 'catchall' (stock's Reply-To) or 'record' (a signed address naming the record)
REPLY_TO_STYLE = Parameter("mail_router.reply_to_style", "catchall")
LOG_RETENTION_DAYS = Parameter("mail_router.log_retention_days", 90, positive_int)
LEDGER_RETENTION_DAYS = Parameter("mail_router.ledger_retention_days", 400, positive_int)
FETCH_FAILURE_ALERT_THRESHOLD = Parameter("mail_router.fetch_failure_alert_threshold", 3, positive_int)
# Seconds one run of a mailbox's fetch job may fetch before it lets the scheduler go on
# (ir.cron progress): a flooded mailbox holds a cron thread this long at a time.
FETCH_JOB_SECONDS = Parameter("mail_router.fetch_job_seconds", 10, positive_int)

# Stock's, followed by routing as stock follows them.
CATCHALL_DOMAINS_ALLOWED = Parameter("mail.catchall.domain.allowed", (), comma_separated)
LOOP_MINUTES = Parameter("mail.gateway.loop.minutes", 120, positive_int)
LOOP_THRESHOLD = Parameter("mail.gateway.loop.threshold", 20, positive_int)
DATABASE_NEUTRALIZED = Parameter("database.is_neutralized", False, bool)

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


def on_off(text):
    value = text.strip().lower()
    if value not in ("true", "false", "1", "0", "on", "off"):
        raise ValueError(f"{text!r} is neither True nor False")
    return value in ("true", "1", "on")


def domains(text):
    return tuple(domain.lower() for domain in comma_separated(text))


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
    text: Callable[[object], str] = str     # how a value is written

    # a dataclass's method, not an override of a model's read
    def read(self, env):  # pylint: disable=method-required-super
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

    def store(self, env, value):
        """Store ``value``; the default is stored as no parameter at all, so that it
        follows the addon's (a longer shipped list of public mail domains...)."""
        env["ir.config_parameter"].sudo().set_param(self.key, False if value == self.default else self.text(value))


# The secret that signs Message-IDs and record addresses (routing.message_id), made at install.
MESSAGE_ID_SECRET = Parameter("mail_router.message_id_secret", "")
# authserv-ids of our receiving mail servers, whose Authentication-Results are believed
TRUSTED_AUTHSERV_IDS = Parameter("mail_router.trusted_authserv_ids", (), comma_separated)
# 'catchall' (stock's Reply-To) or 'record' (a signed address naming the record)
REPLY_TO_STYLE = Parameter("mail_router.reply_to_style", "catchall")
# whether a reference in the Subject routes mail that no thread header routed (the
# subject_reference stage): "True" or "False", on when unset
SUBJECT_REFERENCE = Parameter("mail_router.subject_reference", True, on_off)
# domains where anyone may have an address: no organisation's, for the subject_reference stage
PUBLIC_MAIL_DOMAINS = Parameter("mail_router.public_mail_domains", (
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "live.com",
    "live.fr", "msn.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "ymail.com", "aol.com",
    "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de",
    "mail.com", "zoho.com", "yandex.com", "yandex.ru", "mail.ru", "qq.com", "163.com", "126.com", "free.fr",
    "orange.fr", "laposte.net", "t-online.de", "libero.it", "fastmail.com", "hey.com", "tutanota.com",
), domains, ", ".join)
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

# the mixin first: the models inheriting it may be imported by any module below
from . import mail_router_raw_mixin
from . import base
from . import fetchmail_server
from . import ir_cron
from . import mail_alias_domain
from . import mail_mail
from . import mail_message
from . import mail_router_bounce
from . import mail_router_ledger
from . import mail_router_log
from . import mail_router_mailbox_state
from . import mail_router_pop3_uidl
from . import mail_router_quarantine
from . import mail_thread
from . import res_company
from . import res_config_settings

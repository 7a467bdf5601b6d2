from . import fetchmail_server
from . import mail_message
from . import mail_router_log
from . import mail_router_mailbox_state
from . import mail_router_pop3_uidl
from . import mail_router_quarantine
from . import mail_thread

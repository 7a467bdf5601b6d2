from . import mail_message
from . import mail_router_log
from . import mail_router_quarantine
from . import mail_thread

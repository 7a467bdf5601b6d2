from . import mail_router_log, mail_router_quarantine

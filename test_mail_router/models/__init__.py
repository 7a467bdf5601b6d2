from . import mail_router_test_ticket

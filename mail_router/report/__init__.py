from . import mail_router_flow_report

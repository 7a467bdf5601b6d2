from . import mail_router_quarantine_route
from . import mail_router_simulator
from . import mail_router_simulator_step

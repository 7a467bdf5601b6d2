from . import test_hygiene
from . import test_ledger
from . import test_message_id
from . import test_purchase_end_to_end
from . import test_quarantine
from . import test_routing_log
from . import test_routing_stages

{
    "name": "Mail Router: Purchase",
    "summary": "Mail to the purchase alias creates a draft RFQ for its sender",
    "version": "18.0.1.0.0",
    "category": "Inventory/Purchase",
    "license": "LGPL-3",
    "author": "mail_router contributors",
    "depends": ["mail_router", "purchase"],
    "auto_install": True,
    "post_init_hook": "post_init_hook",
}

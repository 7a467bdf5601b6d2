{
    "name": "Mail Router: Sales",
    "summary": "Mail to the sales alias creates a draft quotation for its sender",
    "version": "18.0.1.0.0",
    "category": "Sales/Sales",
    "license": "LGPL-3",
    "author": "mail_router contributors",
    "depends": ["mail_router", "sale"],
    "auto_install": True,
    "post_init_hook": "post_init_hook",
}

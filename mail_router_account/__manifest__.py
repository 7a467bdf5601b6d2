{
    "name": "Mail Router: Invoicing",
    "summary": "Answers to a bill's or an invoice's mail reach it, with or without attachment",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "mail_router contributors",
    "depends": ["mail_router", "account"],
    "auto_install": True,
}

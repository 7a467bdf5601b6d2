{
    "name": "Mail Router Tests",
    "summary": "Test-only models for mail_router's tests: never install in production",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "license": "LGPL-3",
    "author": "mail_router contributors",
    "depends": ["mail_router", "purchase"],
    "data": ["security/ir.model.access.csv"],
}

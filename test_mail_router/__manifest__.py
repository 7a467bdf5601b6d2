{
    "name": "Mail Router Tests",
    "summary": "Test-only models for mail_router's tests: never install in production",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "license": "LGPL-3",
    "author": "mail_router contributors",
    # The seed's models (spec, "Models That Support Email Routing"), installed once for
    # the end-to-end tests; the bridges mail_router_sale, _purchase, _account follow (auto_install).
    # helpdesk_mgmt is OCA's (requirements-oca-neighbours.txt, in .data/oca-addons).
    "depends": ["mail_router", "purchase", "sale_management", "crm", "project", "account", "hr_recruitment",
                "mail_group", "helpdesk_mgmt"],
    "data": ["security/ir.model.access.csv"],
}

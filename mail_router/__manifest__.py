{
    "name": "Mail Router",
    "summary": "Incoming email routing that follows In-Reply-To, References, aliases "
    "and catchall, explains every decision and never drops a message",
    "version": "18.0.1.0.0",
    "category": "Productivity/Discuss",
    "license": "LGPL-3",
    "author": "mail_router contributors",
    "depends": ["mail"],
    "data": [
        "security/ir.model.access.csv",
        "data/mail_router_secret_data.xml",
        "data/ir_cron_data.xml",
        "views/fetchmail_server_views.xml",
        "views/ir_cron_views.xml",
        "views/mail_router_log_views.xml",
        "views/mail_router_quarantine_views.xml",
        "wizards/mail_router_quarantine_route_views.xml",
        "wizards/mail_router_simulator_views.xml",
        "report/mail_router_flow_report_views.xml",
        "views/mail_router_menus.xml",
        "views/res_config_settings_views.xml",
    ],
    "assets": {
        "web.assets_tests": ["mail_router/static/tests/tours/*.js"],
    },
    "post_init_hook": "post_init_hook",
}

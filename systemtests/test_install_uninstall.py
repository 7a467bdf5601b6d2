"""mail_router installs on a fresh database and uninstalls without a trace."""

OWN_TABLES = ("mail_router_log", "mail_router_quarantine")

INCOMING = """\
From: Ann Vendor <ann@vendor.example>
To: someone@company.example
Subject: Stock mail still works
Message-ID: <after-uninstall@vendor.example>

Hello.
"""


def existing_tables(odoo_db):
    return {name for (name,) in odoo_db.query(
        "SELECT tablename FROM pg_tables WHERE tablename = ANY(%s)", [list(OWN_TABLES)])}


def test_install_then_uninstall_leaves_stock_mail_working(odoo_db):
    odoo_db.odoo("--init=mail_router", "--without-demo=all", "--stop-after-init")
    assert odoo_db.query("SELECT state FROM ir_module_module WHERE name = 'mail_router'") == [("installed",)]
    assert existing_tables(odoo_db) == set(OWN_TABLES)

    odoo_db.shell(
        "env['ir.module.module'].search([('name', '=', 'mail_router')]).button_immediate_uninstall()\n")

    assert odoo_db.query("SELECT state FROM ir_module_module WHERE name = 'mail_router'") == [("uninstalled",)]
    assert existing_tables(odoo_db) == set()
    assert odoo_db.query("SELECT model FROM ir_model WHERE model LIKE 'mail.router.%%'") == []
    assert odoo_db.query("SELECT count(*) FROM ir_model_data WHERE module = 'mail_router'") == [(0,)]
    assert odoo_db.query("SELECT count(*) FROM ir_model_fields WHERE model LIKE 'mail.router.%%'") == [(0,)]

    printed = odoo_db.shell(
        f"partner_id = env['mail.thread'].message_process('res.partner', {INCOMING!r})\n"
        "env.cr.commit()\n"
        "print('PARTNER', partner_id)\n")
    partner_id = int(printed.split("PARTNER", 1)[1].split()[0])
    assert odoo_db.query(
        "SELECT res_id FROM mail_message WHERE message_id = '<after-uninstall@vendor.example>'"
        " AND model = 'res.partner'") == [(partner_id,)]

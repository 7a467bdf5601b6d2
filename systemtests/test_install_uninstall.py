"""mail_router installs on a fresh database and uninstalls without a trace."""

INCOMING = """\
From: Ann Vendor <ann@vendor.example>
To: someone@company.example
Subject: Stock mail still works
Message-ID: <after-uninstall@vendor.example>

Hello.
"""


def own_tables(odoo_db):
    """The tables of the models mail_router defines (its own, not those it extends; its
    mixins are abstract: they have none)."""
    return {model.replace(".", "_") for (model,) in odoo_db.query(
        "SELECT model FROM ir_model WHERE model LIKE 'mail.router.%%' AND model NOT LIKE '%%.mixin'"
        " AND NOT transient")}


def own_columns_on_stock_tables(odoo_db):
    """(table, column) of the fields mail_router adds to stock's models (not those it
    only redefines, as fetchmail.server's password)."""
    return set(odoo_db.query(
        "SELECT replace(f.model, '.', '_'), f.name FROM ir_model_fields f"
        " JOIN ir_model_data d ON d.model = 'ir.model.fields' AND d.res_id = f.id"
        " WHERE d.module = 'mail_router' AND f.store AND f.ttype NOT IN ('one2many', 'many2many')"
        " AND f.model NOT LIKE 'mail.router.%%' AND NOT EXISTS (SELECT 1 FROM ir_model_data other"
        "   WHERE other.model = 'ir.model.fields' AND other.res_id = f.id AND other.module != 'mail_router')"))


def existing_tables(odoo_db, tables):
    """Those of ``tables`` that exist, as tables or as views (a report's SQL view)."""
    return {name for (name,) in odoo_db.query(
        "SELECT tablename FROM pg_tables WHERE tablename = ANY(%(names)s)"
        " UNION SELECT viewname FROM pg_views WHERE viewname = ANY(%(names)s)", {"names": list(tables)})}


def existing_columns(odoo_db, columns):
    return {(table, column) for table, column in columns if odoo_db.query(
        "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s", [table, column])}


def test_install_then_uninstall_leaves_stock_mail_working(odoo_db):
    odoo_db.odoo("--init=mail_router", "--without-demo=all", "--stop-after-init")
    assert odoo_db.query("SELECT state FROM ir_module_module WHERE name = 'mail_router'") == [("installed",)]
    tables, columns = own_tables(odoo_db), own_columns_on_stock_tables(odoo_db)
    assert {"mail_router_log", "mail_router_ledger", "mail_router_quarantine", "mail_router_bounce",
            "mail_router_mailbox_state"} <= tables
    assert ("fetchmail_server", "connection_security") in columns
    assert existing_tables(odoo_db, tables) == tables
    assert existing_columns(odoo_db, columns) == columns

    odoo_db.shell(
        "env['ir.module.module'].search([('name', '=', 'mail_router')]).button_immediate_uninstall()\n")

    assert odoo_db.query("SELECT state FROM ir_module_module WHERE name = 'mail_router'") == [("uninstalled",)]
    assert existing_tables(odoo_db, tables) == set()
    assert existing_columns(odoo_db, columns) == set()
    assert odoo_db.query("SELECT model FROM ir_model WHERE model LIKE 'mail.router.%%'") == []
    assert odoo_db.query("SELECT count(*) FROM ir_model_data WHERE module = 'mail_router'") == [(0,)]

    printed = odoo_db.shell(
        f"partner_id = env['mail.thread'].message_process('res.partner', {INCOMING!r})\n"
        "env.cr.commit()\n"
        "print('PARTNER', partner_id)\n")
    partner_id = int(printed.split("PARTNER", 1)[1].split()[0])
    assert odoo_db.query(
        "SELECT res_id FROM mail_message WHERE message_id = '<after-uninstall@vendor.example>'"
        " AND model = 'res.partner'") == [(partner_id,)]

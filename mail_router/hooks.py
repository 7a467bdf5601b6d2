def post_init_hook(env):
    """Create the Message-ID signing secret at install, before any mail is sent, and give
    existing incoming servers a connection security: stock's SSL off becomes STARTTLS,
    never clear text."""
    env["mail.thread"]._mail_router_codec()
    servers = env["fetchmail.server"].with_context(active_test=False, fetchmail_cron_running=True).search([])
    servers.filtered("is_ssl").write({"connection_security": "ssl"})
    servers.filtered(lambda server: not server.is_ssl).write({"connection_security": "starttls"})

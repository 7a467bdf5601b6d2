def post_init_hook(env):
    """Create the Message-ID signing secret at install, before any mail is sent."""
    env["mail.thread"]._mail_router_codec()

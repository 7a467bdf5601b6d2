def post_init_hook(env):
    """Give existing incoming servers a connection security (stock's SSL off becomes
    STARTTLS, never clear text) and each confirmed one its fetch job."""
    servers = env["fetchmail.server"].with_context(active_test=False, fetchmail_cron_running=True).search([])
    servers.filtered("is_ssl").write({"connection_security": "ssl"})
    servers.filtered(lambda server: not server.is_ssl).write({"connection_security": "starttls"})
    servers._mail_router_sync_jobs()


def create_seed_alias(env, alias_name, model):
    """The spec's alias ``alias_name``@ on the company's alias domain, creating ``model``
    records (the bridges' install hooks: sales@, purchase@). Nothing without an alias
    domain, nor when an alias has that name: an administrator's alias is never taken
    over. Made once, at install: renamed or deleted later, it stays so."""
    domain = env.company.alias_domain_id
    Alias = env["mail.alias"].sudo()
    if not domain or Alias.search_count([("alias_name", "=", alias_name)], limit=1):
        return Alias
    return Alias.create({
        "alias_name": alias_name,
        "alias_domain_id": domain.id,
        "alias_model_id": env["ir.model"]._get_id(model),
        "alias_contact": "everyone",
    })

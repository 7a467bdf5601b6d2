"""Fetching mail from IMAP and POP3 servers, without the ORM.

Raw bytes out, no parsing of mail here. The Odoo layer (``models/``) decides
what to fetch, commits each message and only then flags or deletes it on the
server; this package only speaks the protocols, over verified TLS.

Modules: ``settings`` (what to connect to), ``tls`` (the SSL context),
``imap`` and ``pop3`` (connections and operations), ``errors`` (exceptions and
the sentence an administrator reads).
"""

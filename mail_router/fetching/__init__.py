"""Fetching mail from IMAP and POP3 servers, without the ORM.

Raw bytes out, no parsing of mail here. ``drain`` is the exactly-once loop:
each message handed to the caller's receiver, committed, and only then flagged
or deleted on the server; one message that fails is left on the server and
named, never stopping the rest. The Odoo layer (``models/``) gives it the
processing, the transaction and the storage of the checkpoint.

Modules: ``settings`` (what to connect to), ``tls`` (the SSL context),
``imap`` and ``pop3`` (connections and operations), ``mailboxes`` (an IMAP
folder by UID, a POP3 maildrop by UIDL, and their checkpoints), ``drain``
(the loop), ``errors`` (exceptions and the sentence an administrator reads),
``oauth`` (what an administrator is told about Microsoft's and Google's tokens).
"""

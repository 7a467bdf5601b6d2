"""The pure routing core of mail_router: no Odoo, standard library only.

    headers.py     the headers routing needs, read robustly (IncomingMail)
    hygiene.py     bounces, auto-replies, loops
    message_id.py  signed Message-IDs and plus-address tags that name a record
    mime.py        unknown charsets made readable before parsing
    chain.py       the resolver chain: decide() and its stages, in order

Imports inside the package are relative: it is imported as
``odoo.addons.mail_router.routing`` in Odoo and as ``routing`` by pytest.
"""

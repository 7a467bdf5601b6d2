"""The administrator's story against a real Dovecot, in a real browser (tour
mail_router_fetch, mail_router/static/tests/tours), without developer mode, from the menu
Settings > Mail Routing: the fetch cron's form (Scheduled Fetch) says why it is off; an
incoming server made in the form, Test & Confirm with a wrong password (a dialog names the
cause, the Health tab keeps it, the list shows the server in red), then the right one; Run
Manually on "Mail: Fetchmail Service"; the routing log; the reply in its record's chatter;
the quarantine from General Settings.

The system suite runs it (systemtests/test_operator_tour.py): it starts Dovecot and passes
it in MAIL_ROUTER_TOUR_DOVECOT; without that variable the test is skipped, and its tags
keep it out of the addon suite. Its requests commit for real (registry_test_mode off), as
fetching needs: it commits after each batch of messages and takes its lock on a connection of its
own, which an HttpCase's shared test cursor would roll back. The database is the system
suite's throwaway one.
"""
import imaplib
import json
import os
import time

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import DummyRLock, Registry
from odoo.tests import HttpCase, tagged

from .screenshots import taking_screenshots

DOVECOT_VARIABLE = "MAIL_ROUTER_TOUR_DOVECOT"
TOUR = "mail_router_fetch"
REPLY = """\
From: Ann Vendor <ann@vendor.example>
To: inbox@vendor.example
Subject: Re: Toner order
Message-ID: <tour-reply-{stamp}@vendor.example>
In-Reply-To: {in_reply_to}

The toner is on its way.
"""
STRAY = """\
From: Bob Stranger <bob@elsewhere.example>
To: nobody@vendor.example
Subject: Lost invoice
Message-ID: <tour-stray-{stamp}@elsewhere.example>

Please find our invoice attached.
"""


@tagged("-standard", "mail_router_dovecot", "post_install", "-at_install")
class TestFetchTour(HttpCase):
    registry_test_mode = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # As the test mode does: the main thread holds the registry lock while it runs the
        # tests, and the browser's requests must not wait for it.
        lock, Registry._lock = Registry._lock, DummyRLock()
        cls.addClassCleanup(setattr, Registry, "_lock", lock)

    def setUp(self):
        super().setUp()
        if not os.environ.get(DOVECOT_VARIABLE):
            self.skipTest(f"no Dovecot: {DOVECOT_VARIABLE} is set by the system suite")
        # host, port (IMAPS), plain_port, user, password, ca_file
        self.dovecot = json.loads(os.environ[DOVECOT_VARIABLE])

    def committed(self):
        """An environment whose work is committed, seen by the browser's requests."""
        cursor = self.registry.cursor()
        self.addCleanup(cursor.close)
        return api.Environment(cursor, SUPERUSER_ID, {})

    def deliver(self, raw):
        """Put ``raw`` in the mailbox, as the mail server would (IMAP APPEND on Dovecot's plain port)."""
        connection = imaplib.IMAP4(self.dovecot["host"], self.dovecot["plain_port"], timeout=10)
        try:
            connection.login(self.dovecot["user"], self.dovecot["password"])
            typ, data = connection.append("INBOX", "", None, raw.replace("\n", "\r\n").encode())
            self.assertEqual(typ, "OK", data)
        finally:
            connection.logout()

    def test_admin_sets_up_fetching_and_finds_the_reply(self):
        env = self.committed()
        supplier = env["res.partner"].create({"name": "Toner Supplies"})
        note_id = supplier.message_post(body="Toner order", subtype_xmlid="mail.mt_note").message_id
        env.cr.commit()
        stamp = time.time_ns()
        self.deliver(REPLY.format(stamp=stamp, in_reply_to=note_id))
        self.deliver(STRAY.format(stamp=stamp))

        url = "/odoo"  # Odoo's home, without developer mode, as a new administrator starts
        options = {"stepDelay": 0, "keepWatchBrowser": False, "debug": False, "startUrl": url}
        # the tour types the server's coordinates: it reads them from the session storage
        code = (f"sessionStorage.setItem('mail_router_dovecot', {json.dumps(json.dumps(self.dovecot))});"
                f"odoo.startTour({TOUR!r}, {json.dumps(options)})")
        with taking_screenshots():
            self.start_tour(url, TOUR, login="admin", code=code, timeout=180)

        env = self.committed()  # a transaction that sees what the browser's requests did
        server = env["fetchmail.server"].search([("name", "=", "Dovecot")])
        self.assertEqual(server.state, "done")
        self.assertTrue(server.last_success_date)
        self.assertIn("refused the login", server.last_error, "the failed Test & Confirm stays in the Health tab")
        self.assertEqual(server.consecutive_failures, 0, "a failed Test & Confirm is not a failed fetch")
        self.assertIn("Re: Toner order", env["res.partner"].browse(supplier.id).message_ids.mapped("subject"))
        self.assertEqual(env["mail.router.quarantine"].search([("state", "=", "pending")]).mapped("subject"),
                         ["Lost invoice"])

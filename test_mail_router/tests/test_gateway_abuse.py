from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MailRouterCase


@tagged("post_install", "-at_install", "mail_router")
class TestGatewayAccess(MailRouterCase):
    """message_process writes the ledger as superuser: no outsider may call it; internal
    users may, as in stock (hr_recruitment, mail_group's moderators process mail)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_portal_user()

    def test_outsiders_cannot_feed_the_gateway(self):
        raw = self.incoming(self.address("tickets"), "Real request")
        public = self.env.ref("base.public_user")
        for user in (self.user_portal, public):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["mail.thread"].with_user(user).message_process(None, raw)
            with self.assertRaises(AccessError):
                self.env["mail.thread"].with_user(user).message_route(None, {}, None)
        self.assertFalse(self.env["mail.router.ledger"].search([]))
        self.assertFalse(self.env["mail.router.log"].search([]))
        # the real mail, fetched afterwards, is not taken for a duplicate
        self.assertEqual(self.process(raw).stage, "alias")
        self.assertTrue(self.env["mail.router.test.ticket"].search([("name", "=", "Real request")]))

    def test_internal_users_may(self):
        for user, subject in ((self.user_admin, "Pasted by the admin"), (self.user_employee, "Sent by a module")):
            with self.subTest(user=user.login):
                raw = self.incoming(self.address("tickets"), subject)
                with self.mock_mail_gateway():
                    self.env["mail.thread"].with_user(user).message_process(None, raw)
                self.assertTrue(self.env["mail.router.test.ticket"].search([("name", "=", subject)]))


@tagged("post_install", "-at_install", "mail_router")
class TestAddressesAreNotPatterns(MailRouterCase):

    def setUp(self):
        super().setUp()
        # the vendor wrote on the ticket before: their address is in its email_from
        self.process(self.incoming(self.address(f"tickets+{self.ticket.id}"), "Vendor's first answer"))
        self.assertOnChatter(self.ticket, "Vendor's first answer")

    def test_wildcard_sender_is_known_to_no_record(self):
        for sender in ("%@%", "_@_", "%<%@%>", "\\%@%"):
            with self.subTest(sender=sender):
                log = self.process(self.incoming(self.address(f"tickets+{self.ticket.id}"), f"Forged {sender}",
                                                 email_from=sender))
                self.assertEqual(log.stage, "quarantine")
                self.assertIn("is not validly signed", log.reason)
                self.assertNotOnChatter(self.ticket, f"Forged {sender}")

    def test_known_sender_in_another_case_still_routes(self):
        log = self.process(self.incoming(self.address(f"tickets+{self.ticket.id}"), "Shouting",
                                         email_from="ANN@Vendor.Example"))
        self.assertEqual(log.stage, "record_address")

    def test_wildcard_sender_is_throttled_on_its_own_records_only(self):
        self.env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 2)
        for n in range(2):
            self.env["mail.router.test.ticket"].create({"name": f"Someone's {n}", "email_from": f"x{n}@other.example"})
        log = self.process(self.incoming(self.address("tickets"), "Wildcard request", email_from="%@%"))
        self.assertEqual(log.stage, "alias")


@tagged("post_install", "-at_install", "mail_router")
class TestListMail(MailRouterCase):
    """Mail relayed by a list or a group was written by a person: routed, never answered."""

    def test_list_relayed_request_creates_its_record(self):
        log = self.process(self.incoming(
            self.address("tickets"), "Quote for 40 chairs", email_from="Bob <bob@customer.example>",
            Precedence="list", List_Id="<sales.example.com>", Sender="sales@googlegroups.example"))
        self.assertEqual(log.stage, "alias")
        self.assertTrue(self.env["mail.router.test.ticket"].search([("name", "=", "Quote for 40 chairs")]))

    def test_list_mail_to_nowhere_is_kept_and_never_bounced(self):
        log = self.process(self.incoming(self.catchall, "Digest", List_Id="<news.vendor.example>"))
        self.assertEqual((log.stage, log.bounce_sent), ("quarantine", False))
        self.assertNotSentEmail()


@tagged("post_install", "-at_install", "mail_router")
class TestBouncePolicy(MailRouterCase):
    """Every bounce about incoming mail, stock's included, follows one policy."""

    def refusing_strangers(self):
        self.alias.alias_contact = "followers"

    def test_stock_contact_policy_bounce_goes_to_from_not_return_path(self):
        self.refusing_strangers()
        log = self.process(self.incoming(self.address("tickets"), "Not a follower",
                                         Return_Path="<victim@elsewhere.example>"))
        self.assertEqual(log.stage, "refused")
        self.assertTrue(log.bounce_sent)
        self.assertSentEmail(self.mailer_daemon_email, [self.vendor.email])
        self.assertIn("'Auto-Submitted': 'auto-replied'", self._new_mails.headers)
        self.assertEqual(self.env["mail.router.bounce"].search([]).email_to, self.vendor.email)

    def test_no_bounce_to_unknown_sender_whatever_the_return_path(self):
        self.refusing_strangers()
        log = self.process(self.incoming(self.address("tickets"), "Forged", email_from="victim@elsewhere.example",
                                         Return_Path="<victim@elsewhere.example>"))
        self.assertEqual((log.stage, log.bounce_sent), ("refused", False))
        self.assertNotSentEmail()

    def test_no_bounce_with_null_return_path(self):
        self.refusing_strangers()
        log = self.process(self.incoming(self.address("tickets"), "Null path", Return_Path="<>"))
        self.assertFalse(log.bounce_sent)
        self.assertNotSentEmail()

    def test_one_bounce_a_day_whoever_sends_it(self):
        self.refusing_strangers()
        self.process(self.incoming(self.address("tickets"), "First refused"))
        self.assertSentEmail(self.mailer_daemon_email, [self.vendor.email])
        catchall = self.process(self.incoming(self.catchall, "Then to the catchall"))
        self.assertEqual((catchall.stage, catchall.bounce_sent), ("quarantine", False))
        self.assertNotSentEmail()

    def test_throttling_bounce_follows_the_policy(self):
        self.env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 1)
        self.process(self.incoming(self.address("tickets"), "Flood 1", email_from="robot@flood.example"))
        log = self.process(self.incoming(self.address("tickets"), "Flood 2", email_from="robot@flood.example"))
        self.assertEqual((log.stage, log.bounce_sent), ("throttled", False))
        self.assertNotSentEmail()


@tagged("post_install", "-at_install", "mail_router")
class TestNothingDroppedWithoutCopy(MailRouterCase):

    def test_dropped_mail_keeps_its_bytes_and_can_be_routed_again(self):
        self.env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 1)
        self.process(self.incoming(self.address("tickets"), "Burst 1", email_from="busy@customer.example"))
        raw = self.incoming(self.address("tickets"), "Burst 2", email_from="busy@customer.example")
        log = self.process(raw)
        self.assertEqual(log.stage, "throttled")
        self.assertEqual(log.raw_bytes(), raw)
        self.env["ir.config_parameter"].set_param("mail.gateway.loop.threshold", 20)
        with self.mock_mail_gateway():
            log.action_retry()
        retried = self.env["mail.router.log"].search([], limit=1)
        self.assertEqual((retried.stage, retried.message_id), ("alias", log.message_id))
        self.assertFalse(retried.raw, "a posted mail keeps no copy in the log")
        self.assertTrue(self.env["mail.router.test.ticket"].search([("name", "=", "Burst 2")]))

    def test_every_drop_keeps_a_copy(self):
        rfq = self.post_on(self.ticket)
        cases = {
            "bounce": self.delivery_status(self.vendor.email, rfq.message_id, "Undelivered"),
            "loop": self.incoming(self.address("tickets"), "Looping", email_from=self.catchall),
            "auto_reply": self.incoming(self.address("tickets"), "Away", Auto_Submitted="auto-replied"),
        }
        for stage, raw in cases.items():
            with self.subTest(stage=stage):
                log = self.process(raw)
                self.assertEqual((log.stage, log.raw_bytes()), (stage, raw))

    def test_posted_and_quarantined_mail_keep_no_second_copy(self):
        posted = self.process(self.incoming(self.address("tickets"), "New ticket"))
        quarantined = self.process(self.incoming(self.address("nobody"), "Nowhere"))
        self.assertFalse(posted.raw)
        self.assertFalse(quarantined.raw)

    def test_the_ledger_outlives_the_routing_log(self):
        raw = self.incoming(self.address("nobody"), "Old mail")
        self.process(raw)
        self.env["mail.router.log"].search([]).unlink()  # as the log's retention does
        self.assertEqual(self.process(raw).stage, "duplicate")
        self.assertEqual(len(self.env["mail.router.quarantine"].search([("subject", "=", "Old mail")])), 1)

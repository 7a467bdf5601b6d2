"""The operator screens in a real headless Chromium (tours in mail_router/static/tests/tours),
reached as a new administrator reaches them: from Odoo's home, without developer mode,
through Settings > Mail Routing.

Each tour's screenshot() step saves a PNG in .data/screenshots/ (mail_router/tests/screenshots.py);
the README's are copied from there into docs/screenshots/. The tour against a real Dovecot is
mail_router/tests/test_fetch_tour.py, run by the system suite.
"""
from email.message import EmailMessage

from odoo.tests import HttpCase, tagged

from odoo.addons.mail_router.tests.screenshots import taking_screenshots

DOMAIN = "mail-router-tour.example"


@tagged("post_install", "-at_install", "mail_router", "mail_router_browser")
class TestOperatorBrowser(HttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        domain = cls.env["mail.alias.domain"].create({"name": DOMAIN})
        cls.env["mail.alias"].create({
            "alias_name": "tickets", "alias_domain_id": domain.id, "alias_contact": "everyone",
            "alias_model_id": cls.env["ir.model"]._get_id("mail.router.test.ticket")})
        cls.ticket = cls.env["mail.router.test.ticket"].create({"name": "PO0042"})

    def receive(self, subject, body, to=f"nobody@{DOMAIN}", **headers):
        mail = EmailMessage()
        mail["To"], mail["Subject"] = to, subject
        mail["From"] = headers.pop("From", "Ann Vendor <ann@vendor.example>")
        for name, value in headers.items():
            mail[name.replace("_", "-")] = value
        mail.set_content(body)
        self.env["mail.thread"].message_process(None, mail.as_bytes())

    def start_operator_tour(self, tour):
        with taking_screenshots():
            self.start_tour("/odoo", tour, login="admin")

    def test_simulator_reads_the_decision_of_a_pasted_mail(self):
        self.start_operator_tour("mail_router_simulator")
        self.assertFalse(self.env["mail.router.log"].search([("message_id", "=", "<tour-simulated@vendor.example>")]))

    def test_quarantine_preview_and_route_to_a_record(self):
        self.receive("Question about PO0042", "Where is it?", to=f"tickets+{self.ticket.id}@{DOMAIN}",
                     From="Bob Stranger <bob@elsewhere.example>")  # unknown to the ticket
        self.receive("Lost invoice", "Please find our invoice attached.")
        self.start_operator_tour("mail_router_quarantine")
        self.assertIn("Lost invoice", self.ticket.message_ids.mapped("subject"))

    def test_routing_log_opens_the_target_record(self):
        # a contact: the test ticket has no form with a chatter
        supplier = self.env["res.partner"].create({"name": "Toner Supplies"})
        note = supplier.message_post(body="Toner order", subtype_xmlid="mail.mt_note")
        self.receive("Printer on fire", "Our printer is on fire.", to=f"tickets@{DOMAIN}")  # a new ticket
        self.receive("Lost invoice", "Please find our invoice attached.")  # quarantined
        self.receive("Re: Toner order", "The toner is on its way.", In_Reply_To=note.message_id)
        self.start_operator_tour("mail_router_log_target")
        self.assertIn("Re: Toner order", supplier.message_ids.mapped("subject"))

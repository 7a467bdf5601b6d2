"""The operator screens in a real headless Chromium (tours in mail_router/static/tests/tours).

Each tour's screenshot() step saves a PNG in .data/screenshots/ (MAIL_ROUTER_SCREENSHOTS
to change it); the README's are copied from there into docs/screenshots/.
"""
import base64
import os
from email.message import EmailMessage
from pathlib import Path
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

SCREENSHOTS = Path(os.environ.get("MAIL_ROUTER_SCREENSHOTS") or Path(__file__).parents[2] / ".data" / "screenshots")
SCREENSHOT_SIGNAL = "mail_router screenshot: "
DOMAIN = "mail-router-tour.example"


class ScreenshotBrowser(ChromeBrowser):
    """Chrome that saves a screenshot when the tour logs SCREENSHOT_SIGNAL<name>."""

    def _handle_console(self, type, args=None, stackTrace=None, **kw):  # pylint: disable=redefined-builtin
        message = str(self._from_remoteobject(args[0])) if args else ""
        if message.startswith(SCREENSHOT_SIGNAL):
            self._save_screenshot(message.removeprefix(SCREENSHOT_SIGNAL))
        return super()._handle_console(type, args, stackTrace, **kw)

    def _save_screenshot(self, name):
        def save(future):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (SCREENSHOTS / f"{name}.png").write_bytes(base64.b64decode(future.result(timeout=0)["data"]))
        self._websocket_send("Page.captureScreenshot", with_future=True).add_done_callback(save)


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
        mail["From"], mail["To"], mail["Subject"] = "Ann Vendor <ann@vendor.example>", to, subject
        for name, value in headers.items():
            mail[name.replace("_", "-")] = value
        mail.set_content(body)
        self.env["mail.thread"].message_process(None, mail.as_bytes())

    def start_operator_tour(self, action, tour):
        with patch("odoo.tests.common.ChromeBrowser", ScreenshotBrowser):
            self.start_tour(f"/odoo/action-mail_router.{action}", tour, login="admin")

    def test_simulator_reads_the_decision_of_a_pasted_mail(self):
        self.start_operator_tour("mail_router_simulator_action", "mail_router_simulator")
        self.assertFalse(self.env["mail.router.log"].search([("message_id", "=", "<tour-simulated@vendor.example>")]))

    def test_quarantine_preview_and_route_to_a_record(self):
        self.receive("Lost invoice", "Please find our invoice attached.")
        self.start_operator_tour("mail_router_quarantine_action", "mail_router_quarantine")
        self.assertIn("Lost invoice", self.ticket.message_ids.mapped("subject"))

    def test_routing_log_opens_the_target_record(self):
        # a contact: the test ticket has no form with a chatter
        supplier = self.env["res.partner"].create({"name": "Toner Supplies"})
        note = supplier.message_post(body="Toner order", subtype_xmlid="mail.mt_note")
        self.receive("Re: Toner order", "The toner is on its way.", In_Reply_To=note.message_id)
        self.start_operator_tour("mail_router_log_action", "mail_router_log_target")
        self.assertIn("Re: Toner order", supplier.message_ids.mapped("subject"))

from email.message import EmailMessage

from odoo.tests import tagged

from .common import MailRouterCase


@tagged("post_install", "-at_install", "mail_router")
class TestQuarantineTriage(MailRouterCase):
    """What an administrator does with quarantined mail, and what the screen says."""

    def quarantine(self, *subjects):
        for subject in subjects:
            self.process(self.incoming(self.address("nobody"), subject, body=f"Text of {subject}."))
        return self.env["mail.router.quarantine"].with_user(self.user_admin).search(
            [("subject", "in", subjects)], order="id")

    def last_log(self):
        return self.env["mail.router.log"].search([], limit=1)

    def test_route_to_posts_on_the_chosen_record_and_logs_a_manual_route(self):
        entry = self.quarantine("Meant for PO0002")
        wizard = self.env["mail.router.quarantine.route"].with_user(self.user_admin).with_context(
            default_quarantine_ids=entry.ids).create({"target": f"{self.other_ticket._name},{self.other_ticket.id}"})
        with self.mock_mail_gateway():
            action = wizard.action_route()
        self.assertOnChatter(self.other_ticket, "Meant for PO0002", author=self.vendor)
        self.assertEqual(entry.state, "routed")
        log = self.last_log()
        self.assertEqual((log.stage, log.target_record, log.mail_message_id.model),
                         ("manual", self.other_ticket, self.other_ticket._name))
        self.assertIn("by hand", log.reason)
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn(self.other_ticket.display_name, action["params"]["message"])

    def test_route_to_a_deleted_record_keeps_the_mail_quarantined(self):
        entry = self.quarantine("Meant for a deleted ticket")
        gone = self.env["mail.router.test.ticket"].create({"name": "Gone"})
        gone.unlink()
        with self.mock_mail_gateway():
            action = entry._route_to(gone)._notification("Routed")
        self.assertEqual(entry.state, "pending")
        self.assertEqual(self.last_log().stage, "refused")
        self.assertIn("no longer exists", entry.reason)
        self.assertFalse(self.env["mail.router.test.ticket"].search([("name", "=", "Meant for a deleted ticket")]))
        self.assertEqual(action["params"]["type"], "warning")

    def test_retry_after_adding_the_missing_alias_says_where_it_went(self):
        entries = self.quarantine("First for support", "Second for support")
        self.alias.alias_name = "nobody"
        with self.mock_mail_gateway():
            action = entries.action_retry()
        self.assertEqual(set(entries.mapped("state")), {"routed"})
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("First for support", action["params"]["message"])
        self.assertIn("Second for support", action["params"]["message"])

    def test_retry_still_quarantined_says_why(self):
        entry = self.quarantine("Still nowhere")
        with self.mock_mail_gateway():
            action = entry.action_retry()
        self.assertEqual(action["params"]["type"], "warning")
        self.assertIn("no default model", action["params"]["message"])

    def test_discard_many_keeps_a_log_line_each_and_restore_undoes_it(self):
        entries = self.quarantine("Spam one", "Spam two")
        action = entries.action_discard()
        self.assertEqual(set(entries.mapped("state")), {"discarded"})
        logs = self.env["mail.router.log"].search([("stage", "=", "discarded")])
        self.assertEqual(sorted(logs.mapped("subject")), ["Spam one", "Spam two"])
        self.assertIn("Restore", action["params"]["message"])
        entries.action_restore()
        self.assertEqual(set(entries.mapped("state")), {"pending"})

    def test_preview_shows_headers_text_and_attachments(self):
        self.process(self.incoming(self.address("nobody"), "Plain text", body="Please find the invoice."))
        entry = self.env["mail.router.quarantine"].search([("subject", "=", "Plain text")])
        self.assertIn("Subject: Plain text", entry.preview_headers)
        self.assertIn("From: Ann Vendor <ann@vendor.example>", entry.preview_headers)
        self.assertIn("Please find the invoice.", entry.preview_body)
        self.assertFalse(entry.preview_attachments)

    def test_preview_lists_attachments(self):
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "ann@vendor.example", self.address("nobody"), "Invoice"
        mail["Message-ID"] = "<invoice@vendor.example>"
        mail.set_content("See attached.")
        mail.add_attachment(b"%PDF-1.4 tiny", maintype="application", subtype="pdf", filename="invoice.pdf")
        self.process(mail.as_bytes())
        entry = self.env["mail.router.quarantine"].search([("subject", "=", "Invoice")])
        self.assertEqual(entry.preview_attachments, "invoice.pdf (application/pdf, 13 bytes)")
        self.assertIn("See attached.", entry.preview_body)

    def test_the_log_opens_the_target_record_and_the_posted_message(self):
        rfq = self.post_on(self.ticket)
        log = self.process(self.incoming(self.catchall, "Re: RFQ", In_Reply_To=rfq.message_id))
        self.assertEqual(log.target_record, self.ticket)
        self.assertEqual(log.action_open_target()["res_id"], self.ticket.id)
        self.assertEqual(log.action_open_message()["res_id"], log.mail_message_id.id)

    def test_the_server_form_counts_its_log_and_waiting_mail(self):
        server = self.env["fetchmail.server"].create({
            "name": "Mailbox", "server_type": "imap", "server": "mail.example.com", "user": "odoo", "password": "x"})
        with self.mock_mail_gateway():
            self.env["mail.thread"].with_context(default_fetchmail_server_id=server.id).sudo().message_process(
                None, self.incoming(self.address("nobody"), "Via the mailbox"))
        self.assertEqual((server.routing_log_count, server.quarantine_count), (1, 1))
        action = server.action_open_quarantine()
        self.assertEqual(self.env["mail.router.quarantine"].search(action["domain"]).subject, "Via the mailbox")

from email.message import EmailMessage
from email.utils import make_msgid

from odoo.tests import tagged

from .common import MailRouterCase

BIG = 8 * 1024 * 1024


@tagged("post_install", "-at_install", "mail_router")
class TestPosting(MailRouterCase):
    """Posted as stock posts: attachments, subtype, author."""

    def with_attachment(self, subject, size):
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "ann@vendor.example", self.address("tickets"), subject
        mail["Message-ID"] = make_msgid(domain="vendor.example")
        mail.set_content("The quote is attached.")
        mail.add_attachment(bytes(range(256)) * (size // 256), maintype="application", subtype="pdf",
                            filename="quote.pdf")
        return mail.as_bytes()

    def test_huge_attachment_is_kept(self):
        log = self.process(self.with_attachment("Big quote", BIG))
        ticket = self.env["mail.router.test.ticket"].search([("name", "=", "Big quote")])
        self.assertEqual(log.stage, "alias")
        attachment = log.mail_message_id.attachment_ids
        self.assertEqual((attachment.name, attachment.file_size), ("quote.pdf", BIG))
        self.assertEqual(attachment.res_id, ticket.id)

    def test_server_that_strips_attachments(self):
        with self.mock_mail_gateway():
            self.env["mail.thread"].sudo().message_process(
                None, self.with_attachment("Stripped", 1024), strip_attachments=True)
        log = self.env["mail.router.log"].search([], limit=1)
        self.assertEqual(log.stage, "alias")
        self.assertFalse(log.mail_message_id.attachment_ids)

    def test_reply_to_an_internal_note_is_a_note(self):
        note = self.ticket.message_post(body="Internal: check the price", subtype_xmlid="mail.mt_note")
        comment = self.post_on(self.ticket)
        self.process(self.incoming(self.catchall, "Re: note", In_Reply_To=note.message_id))
        self.process(self.incoming(self.catchall, "Re: comment", In_Reply_To=comment.message_id))
        self.assertEqual(self.assertOnChatter(self.ticket, "Re: note", parent=note).subtype_id,
                         self.env.ref("mail.mt_note"))
        self.assertEqual(self.assertOnChatter(self.ticket, "Re: comment", parent=comment).subtype_id,
                         self.env.ref("mail.mt_comment"))

"""Mailing lists (mail_group): a mail.group is an alias target but no mail.thread. A mail
to its alias reaches its members over a real SMTP server, moderation included, and a
member's answer to it lands on the list, as in stock."""
import email
from email import policy
from email.message import EmailMessage
from unittest.mock import patch

from odoo import Command
from odoo.tests import TransactionCase, tagged

from .smtp_sink import start_smtp_sink


@tagged("post_install", "-at_install", "mail_router")
class TestMailGroup(TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = start_smtp_sink(cls)
        cls.env["mail.alias.domain"].create({
            "name": "company.example", "catchall_alias": "catchall", "bounce_alias": "bounce",
            "default_from": "notifications"})
        cls.moderator = cls.env["res.users"].create({
            "name": "Mona Moderator", "login": "mona", "email": "mona@company.example",
            "groups_id": [Command.link(cls.env.ref("base.group_user").id)]})
        cls.group = cls.env["mail.group"].create({
            "name": "Bolts Users", "alias_name": "bolts-users", "access_mode": "members"})
        cls.members = ("ann@vendor.example", "bob@customer.example", "carl@customer.example")
        cls.env["mail.group.member"].create([
            {"mail_group_id": cls.group.id, "email": member} for member in cls.members])

    def receive(self, sender, subject, to="bolts-users@company.example", **headers):
        """A mail to the list, fetched: (its routing log entry, its Message-ID)."""
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = sender, to, subject
        mail["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2].strip(">"))
        for name, value in headers.items():
            mail[name.replace("_", "-")] = value
        mail.set_content(f"{subject}: the body.")
        self.env["mail.thread"].sudo().message_process(False, mail.as_bytes(policy=policy.SMTP))
        return self.env["mail.router.log"].search([], limit=1), mail["Message-ID"]

    def delivered(self):
        """Send the mail queue over SMTP: {recipient: the mail it got}."""
        self.sink.envelopes.clear()
        with patch("odoo.modules.module.current_test", None):  # let ir.mail_server really send
            self.env["mail.mail"].sudo().process_email_queue()
        return {rcpt: email.message_from_bytes(envelope.original_content, policy=policy.SMTP)
                for envelope in self.sink.envelopes for rcpt in envelope.rcpt_tos}

    def test_mail_to_the_list_reaches_its_members(self):
        log, message_id = self.receive("Ann Vendor <ann@vendor.example>", "New bolt sizes")
        self.assertEqual((log.stage, log.target_model, log.target_res_ids), ("alias", "mail.group", str(self.group.id)),
                         log.reason)
        group_message = self.group.mail_group_message_ids.filtered(lambda m: m.subject == "New bolt sizes")
        self.assertEqual(group_message.moderation_status, "accepted")
        self.assertEqual(log.mail_message_id, group_message.mail_message_id)
        self.assertEqual(log.target_record, self.group)
        delivered = self.delivered()
        self.assertEqual(sorted(delivered), ["bob@customer.example", "carl@customer.example"],
                         "every member but the author gets it")
        self.assertEqual(delivered["bob@customer.example"]["Message-ID"], message_id)
        self.assertEqual(delivered["bob@customer.example"]["List-Id"], "<bolts-users@company.example>")

        # Bob answers the list: the answer is on the list, below Ann's mail, and reaches Ann and Carl
        log, _answer_id = self.receive("Bob <bob@customer.example>", "Re: New bolt sizes", In_Reply_To=message_id)
        self.assertEqual((log.stage, log.matched), ("in_reply_to", message_id), log.reason)
        answer = self.group.mail_group_message_ids.filtered(lambda m: m.subject == "Re: New bolt sizes")
        self.assertEqual(answer.group_message_parent_id, group_message)
        self.assertEqual(sorted(self.delivered()), ["ann@vendor.example", "carl@customer.example"])

    def test_the_list_refuses_strangers(self):
        log, _message_id = self.receive("Mallory <mallory@elsewhere.example>", "Cheap bolts")
        self.assertEqual(log.stage, "refused", log.reason)
        self.assertFalse(self.group.mail_group_message_ids.filtered(lambda m: m.subject == "Cheap bolts"))
        self.assertTrue(self.env["mail.router.quarantine"].search([("subject", "=", "Cheap bolts")]))
        self.assertFalse([rcpt for rcpt in self.delivered() if rcpt in self.members])

    def test_moderated_list(self):
        self.group.write({"moderation": True, "moderator_ids": [Command.link(self.moderator.id)],
                          "access_mode": "public"})
        log, _message_id = self.receive("Dan <dan@newcomer.example>", "First post")
        self.assertEqual(log.stage, "alias", log.reason)
        pending = self.group.mail_group_message_ids.filtered(lambda m: m.subject == "First post")
        self.assertEqual(pending.moderation_status, "pending_moderation")
        self.assertFalse([rcpt for rcpt in self.delivered() if rcpt in self.members], "nothing before moderation")
        pending.with_user(self.moderator).action_moderate_accept()
        self.assertEqual(pending.moderation_status, "accepted")
        self.assertEqual(sorted(rcpt for rcpt in self.delivered() if rcpt in self.members), sorted(self.members))

        # banned: the next mail of that sender is rejected, and reaches no one
        self.env["mail.group.moderation"].create({"mail_group_id": self.group.id, "email": "dan@newcomer.example",
                                                  "status": "ban"})
        self.receive("Dan <dan@newcomer.example>", "Second post")
        rejected = self.group.mail_group_message_ids.filtered(lambda m: m.subject == "Second post")
        self.assertEqual(rejected.moderation_status, "rejected")
        self.assertFalse([rcpt for rcpt in self.delivered() if rcpt in self.members])

"""The seed's models end to end (spec: "Models That Support Email Routing", "Mail Aliases").

For each model of the spec in Community, the same story: a mail leaves a record through
the composer over a real SMTP server (aiosmtpd), the contact answers from Gmail, Outlook
and Thunderbird, each answer lands on that record; and a new mail to the model's alias
creates a record. sale.order and purchase.order take new mail through mail_router_sale
and mail_router_purchase, installed with test_mail_router (auto_install); helpdesk.ticket
comes from OCA's helpdesk_mgmt (Enterprise's helpdesk is not in Community).
"""
import base64
import email
import uuid
from email import policy
from email.message import EmailMessage
from unittest.mock import patch

from odoo import Command
from odoo.tests import Form, TransactionCase, new_test_user, tagged
from odoo.tools import email_normalize

from odoo.addons.mail_router_purchase import post_init_hook as create_purchase_alias
from odoo.addons.mail_router_sale import post_init_hook as create_sales_alias

from .smtp_sink import start_smtp_sink

# Answers to ``sent`` (the mail Odoo sent) as each client writes them, to its Reply-To.
# {token} keeps each answer's Message-ID its own.
GMAIL_REPLY = """\
MIME-Version: 1.0
Date: Tue, 12 Dec 2023 10:01:02 +0100
Message-ID: <CAJx9Lx+{token}@mail.gmail.com>
In-Reply-To: {sent_id}
References: {sent_id}
Subject: Re: {subject}
From: {sender}
To: {reply_to}
Content-Type: multipart/alternative; boundary="000000000000gmail"

--000000000000gmail
Content-Type: text/plain; charset="UTF-8"

Gmail: our quote is attached.

--000000000000gmail
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Gmail: our quote is attached.</div>

--000000000000gmail--
"""

# Outlook sets In-Reply-To and Thread-Index, and no References.
OUTLOOK_REPLY = """\
From: {sender}
To: "{reply_to_name}" <{reply_to}>
Subject: RE: {subject}
Thread-Topic: {subject}
Thread-Index: AQHaLMr3k2b5mJ4xXUuVb3oA1Y2m4g==
Date: Tue, 12 Dec 2023 09:15:22 +0000
Message-ID: <AM0PR07MB{token}@AM0PR07MB1234.eurprd07.prod.outlook.com>
In-Reply-To: {sent_id}
Accept-Language: en-US
Content-Language: en-US
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

Outlook: prices valid until the end of the month, d=E9lai 2 weeks.
"""

THUNDERBIRD_REPLY = """\
Message-ID: <{token}-thunderbird@vendor.example>
Date: Tue, 12 Dec 2023 11:20:00 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: Re: {subject}
Content-Language: en-US
To: {reply_to}
References: {sent_id}
From: {sender}
In-Reply-To: {sent_id}
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 7bit

Thunderbird: confirmed.
"""

REPLIES = {"Gmail": GMAIL_REPLY, "Outlook": OUTLOOK_REPLY, "Thunderbird": THUNDERBIRD_REPLY}


def reply(template, sent, sender):
    """The raw bytes of an answer to the parsed mail ``sent``, from ``sender``."""
    reply_to_name, reply_to = email.utils.parseaddr(sent["Reply-To"])
    text = template.format(token=uuid.uuid4().hex, sent_id=sent["Message-ID"], subject=sent["Subject"],
                           sender=sender, reply_to=reply_to, reply_to_name=reply_to_name)
    return text.replace("\n", "\r\n").encode("latin-1")


def new_mail(to, sender, subject, body, attachment):
    """The raw bytes of a new mail (no thread) with one attachment (name, bytes)."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, subject
    mail["Message-ID"] = email.utils.make_msgid(domain="customer.example")
    mail.set_content(body)
    name, data = attachment
    mail.add_attachment(data, maintype="text", subtype="plain", filename=name)
    return mail.as_bytes(policy=policy.SMTP)


@tagged("post_install", "-at_install", "mail_router")
class TestSeedModelsEndToEnd(TransactionCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = start_smtp_sink(cls)
        # The database's first alias domain: stock gives it to every company and alias
        # (vendor-bills@, the sales team's info@...).
        cls.env["mail.alias.domain"].create({
            "name": "company.example", "catchall_alias": "catchall", "bounce_alias": "bounce",
            "default_from": "notifications"})
        cls.env.company.email = "office@company.example"
        cls.env.user.email = "office@company.example"
        # At install the test database had no alias domain: the bridges' hooks made no
        # alias then. Run them again now that it has one.
        create_sales_alias(cls.env)
        create_purchase_alias(cls.env)
        cls.contact = cls.env["res.partner"].create({"name": "Ann Vendor", "email": "ann@vendor.example"})
        cls.product = cls.env["product.product"].create({"name": "Bolts", "purchase_ok": True, "sale_ok": True})

    # ------------------------------------------------------------------
    # The two halves of the story, for any record
    # ------------------------------------------------------------------

    def chatter_composer(self, record):
        """The action of the chatter's "Send message" on ``record``, to the contact."""
        return {"res_model": "mail.compose.message", "context": {
            "default_model": record._name, "default_res_ids": record.ids,
            "default_composition_mode": "comment", "default_partner_ids": self.contact.ids,
            "default_subject": f"About {record.display_name}", "default_body": "<p>Can you confirm?</p>"}}

    def send_from(self, record, composer_action, user=None):
        """Open ``composer_action`` (a mail.compose.message) on ``record`` and Send, as
        ``user`` (default: the test's): (the posted message, the mail as the SMTP server
        received it)."""
        self.sink.envelopes.clear()
        env = self.env(user=user) if user else self.env
        composer = Form(env[composer_action["res_model"]].with_context(**composer_action["context"])).save()
        with patch("odoo.modules.module.current_test", None):  # let ir.mail_server really send
            composer.action_send_mail()
        sent_message = record.message_ids.filtered(lambda m: m.message_type == "comment")[:1]
        to_contact = [e for e in self.sink.envelopes if e.rcpt_tos == [self.contact.email]]
        self.assertEqual(len(to_contact), 1, f"the mail from {record.display_name} must reach the SMTP server once")
        return sent_message, email.message_from_bytes(to_contact[0].original_content, policy=policy.SMTP)

    def assertRepliesLand(self, record, composer_action, user=None):
        """A mail sent from ``record`` (by ``user``), answered from each client: each answer
        is on ``record``'s chatter once, below the thread's first message, by the contact."""
        sent_message, sent = self.send_from(record, composer_action, user=user)
        self.assertEqual(sent["Message-ID"], sent_message.message_id)
        self.assertTrue(sent["Message-ID"].startswith(f"<{record._name}-{record.id}-"), sent["Message-ID"])
        self.assertTrue(email.utils.parseaddr(sent["Reply-To"])[1].endswith("@company.example"), sent["Reply-To"])
        # every seed model keeps a flat thread: answers hang on its first message
        expected_parent = sent_message.parent_id or sent_message
        for client, template in REPLIES.items():
            with self.subTest(model=record._name, client=client):
                raw = reply(template, sent, f"{self.contact.name} <{self.contact.email}>")
                self.env["mail.thread"].sudo().message_process(False, raw)
                answer = record.message_ids.filtered(lambda m, client=client: client in (m.body or ""))
                self.assertEqual(len(answer), 1, f"the {client} answer must be once on {record.display_name}")
                self.assertEqual(answer.parent_id, expected_parent)
                self.assertEqual(answer.author_id, self.contact)
                log = self.env["mail.router.log"].search([("mail_message_id", "=", answer.id)])
                self.assertEqual((log.stage, log.matched), ("in_reply_to", sent_message.message_id))

    def mail_to_alias(self, address, model, sender="Bob Buyer <bob@customer.example>"):
        """A new mail to ``address`` from ``sender``: the ``model`` record it created,
        its first message the mail (subject, body, attachment, sender)."""
        subject = f"New request to {address}"
        raw = new_mail(address, sender, subject, "Please send 500 bolts.", ("specs.txt", b"M8 x 40"))
        record_id = self.env["mail.thread"].sudo().message_process(False, raw)
        log = self.env["mail.router.log"].search([], limit=1)
        self.assertEqual((log.stage, log.matched, log.target_model), ("alias", address, model), log.reason)
        record = self.env[model].browse(record_id)
        message = log.mail_message_id
        self.assertEqual((message.model, message.res_id), (model, record.id))
        self.assertEqual(message.subject, subject)
        self.assertIn("Please send 500 bolts.", message.body)
        self.assertEqual(message.attachment_ids.mapped("name"), ["specs.txt"])
        self.assertEqual(base64.b64decode(message.attachment_ids.datas), b"M8 x 40")
        self.assertEqual(email_normalize(message.email_from), email_normalize(sender))
        return record

    def assertOrderForSender(self, order, name, address):
        """A draft order of the bridges: the sender its partner, the mail's author, a follower."""
        self.assertEqual(order.state, "draft")
        self.assertEqual((order.partner_id.name, order.partner_id.email), (name, address))
        self.assertIn(order.partner_id, order.message_partner_ids)
        self.assertEqual(order.message_ids.filtered(lambda m: m.message_type == "email").author_id, order.partner_id)
        self.assertNotIn("New request", order.name, "the order keeps its sequence number")
        self.assertFalse(order.user_id, "the salesperson or buyer is for people to choose, not the gateway's user")

    # ------------------------------------------------------------------
    # The models
    # ------------------------------------------------------------------

    def test_purchase_order(self):
        po = self.env["purchase.order"].create({
            "partner_id": self.contact.id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_qty": 100, "price_unit": 1.0})]})
        self.assertRepliesLand(po, po.action_rfq_send())
        rfq = self.mail_to_alias("purchase@company.example", "purchase.order")
        self.assertOrderForSender(rfq, "Bob Buyer", "bob@customer.example")

    def test_sale_order(self):
        so = self.env["sale.order"].create({
            "partner_id": self.contact.id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 100})]})
        self.assertRepliesLand(so, so.action_quotation_send())
        quotation = self.mail_to_alias("sales@company.example", "sale.order")
        self.assertOrderForSender(quotation, "Bob Buyer", "bob@customer.example")

    def test_crm_lead_through_a_sales_team(self):
        team = self.env["crm.team"].create({"name": "Bolts", "use_leads": True, "alias_name": "bolts-sales"})
        lead = self.env["crm.lead"].create({"name": "Bolts for Ann", "partner_id": self.contact.id, "team_id": team.id})
        self.assertRepliesLand(lead, self.chatter_composer(lead))
        new_lead = self.mail_to_alias("bolts-sales@company.example", "crm.lead")
        self.assertEqual(new_lead.team_id, team)
        self.assertEqual(new_lead.email_normalized, "bob@customer.example")

    def test_project_task_through_a_project(self):
        project = self.env["project.project"].create({"name": "Bolts", "alias_name": "bolts-tasks"})
        task = self.env["project.task"].create({"name": "Ship bolts", "project_id": project.id,
                                                "partner_id": self.contact.id})
        self.assertRepliesLand(task, self.chatter_composer(task))
        new_task = self.mail_to_alias("bolts-tasks@company.example", "project.task")
        self.assertEqual(new_task.project_id, project)

    def test_account_move_through_a_vendor_bill_journal(self):
        journal = self.env["account.journal"].search(
            [("type", "=", "purchase"), ("company_id", "=", self.env.company.id)], limit=1)
        journal.alias_name = "bills"
        bill = self.env["account.move"].create({"move_type": "in_invoice", "partner_id": self.contact.id,
                                                "journal_id": journal.id})
        self.assertRepliesLand(bill, self.chatter_composer(bill))
        new_bill = self.mail_to_alias("bills@company.example", "account.move")
        self.assertEqual((new_bill.move_type, new_bill.journal_id, new_bill.state), ("in_invoice", journal, "draft"))

    def test_hr_applicant_through_a_job(self):
        job = self.env["hr.job"].create({"name": "Bolt Engineer", "alias_name": "bolt-jobs"})
        candidate = self.env["hr.candidate"].create({"partner_name": "Ann Vendor", "partner_id": self.contact.id})
        applicant = self.env["hr.applicant"].create({"candidate_id": candidate.id, "job_id": job.id})
        self.assertRepliesLand(applicant, self.chatter_composer(applicant))
        new_applicant = self.mail_to_alias("bolt-jobs@company.example", "hr.applicant")
        self.assertEqual(new_applicant.job_id, job)
        self.assertEqual(email_normalize(new_applicant.email_from), "bob@customer.example")

    def test_helpdesk_ticket_through_support(self):
        """The seed's support@ (OCA helpdesk_mgmt, a team's alias): a mail to it makes a
        ticket for the sender; the team answers from the ticket's chatter, over SMTP, and the
        customer's answers from each client land on the ticket."""
        agent = new_test_user(self.env, login="sam", name="Sam Support", email="sam@company.example",
                              groups="base.group_user,helpdesk_mgmt.group_helpdesk_user")
        team = self.env["helpdesk.ticket.team"].create({"name": "Support", "alias_name": "support",
                                                        "user_ids": [Command.link(agent.id)]})
        self.assertEqual((team.alias_id.alias_full_name, team.alias_id.alias_model_id.model),
                         ("support@company.example", "helpdesk.ticket"))
        ticket = self.mail_to_alias("support@company.example", "helpdesk.ticket",
                                    sender=f"{self.contact.name} <{self.contact.email}>")
        self.assertEqual((ticket.team_id, ticket.partner_id), (team, self.contact))
        self.assertEqual(ticket.name, "New request to support@company.example")
        self.assertIn("Please send 500 bolts.", ticket.description)
        # a member of the team answers from the ticket's chatter
        self.assertRepliesLand(ticket, self.chatter_composer(ticket), user=agent)
        self.assertEqual(ticket.message_ids.filtered(lambda m: m.subject == f"About {ticket.display_name}").author_id,
                         agent.partner_id)
        # a sender no one knows: the ticket keeps their address
        stranger_ticket = self.mail_to_alias("support@company.example", "helpdesk.ticket")
        self.assertNotEqual(stranger_ticket, ticket)
        self.assertEqual(stranger_ticket.team_id, team)
        self.assertEqual(email_normalize(stranger_ticket.partner_email), "bob@customer.example")

    # ------------------------------------------------------------------
    # The bridges: who the sender is, the seed's aliases
    # ------------------------------------------------------------------

    def test_order_for_a_known_sender_is_theirs(self):
        """The same address, case and display name aside: the existing contact."""
        quotation = self.mail_to_alias("sales@company.example", "sale.order", sender="Ann V. <ANN@Vendor.Example>")
        self.assertEqual(quotation.partner_id, self.contact)
        self.assertIn(self.contact, quotation.message_partner_ids)

    def test_order_sender_address_is_no_pattern(self):
        """'_' and '%' are LIKE wildcards: such an address names no one else."""
        for address in ("a_n@vendor.example", "%@vendor.example"):
            with self.subTest(address=address):
                rfq = self.mail_to_alias("purchase@company.example", "purchase.order", sender=address)
                self.assertNotEqual(rfq.partner_id, self.contact)
                self.assertEqual(rfq.partner_id.email, address)

    def test_seed_aliases(self):
        aliases = self.env["mail.alias"].search([("alias_name", "in", ("sales", "purchase"))])
        self.assertEqual(
            sorted((a.alias_full_name, a.alias_model_id.model, a.alias_contact) for a in aliases),
            [("purchase@company.example", "purchase.order", "everyone"),
             ("sales@company.example", "sale.order", "everyone")])

    def test_seed_alias_never_takes_over(self):
        """An alias of that name is the administrator's: kept as it is, no second one;
        without an alias domain, nothing."""
        sales = self.env["mail.alias"].search([("alias_name", "=", "sales")])
        sales.alias_model_id = self.env["ir.model"]._get_id("crm.lead")
        create_sales_alias(self.env)
        self.assertEqual(self.env["mail.alias"].search([("alias_name", "=", "sales")]), sales)
        self.assertEqual(sales.alias_model_id.model, "crm.lead")
        self.env["mail.alias"].search([("alias_name", "=", "purchase")]).unlink()
        self.env.company.alias_domain_id = False
        create_purchase_alias(self.env)
        self.assertFalse(self.env["mail.alias"].search([("alias_name", "=", "purchase")]))

    # ------------------------------------------------------------------
    # Record reply addresses (mail_router.reply_to_style = record)
    # ------------------------------------------------------------------

    def test_rfq_with_record_reply_to_routes_without_thread_headers(self):
        """The seed's purchase+123@: the RFQ carries it over SMTP; an answer that lost
        every thread header and has its subject edited lands on the PO; the same address
        with one character of its signature changed, from a stranger, does not."""
        self.env["ir.config_parameter"].set_param("mail_router.reply_to_style", "record")
        po = self.env["purchase.order"].create({
            "partner_id": self.contact.id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_qty": 100, "price_unit": 1.0})]})
        _sent_message, sent = self.send_from(po, po.action_rfq_send())
        name, address = email.utils.parseaddr(sent["Reply-To"])
        codec = self.env["mail.thread"]._mail_router_codec()
        self.assertEqual(address, f"purchase+{codec.record_address_tag('purchase.order', po.id)}@company.example")
        self.assertIn(po.name, name, "the display name stays stock's")

        def answer(to, sender, subject):
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = sender, to, subject
            mail["Message-ID"] = email.utils.make_msgid(domain="vendor.example")
            mail.set_content("Our prices, as asked.")
            self.env["mail.thread"].sudo().message_process(False, mail.as_bytes(policy=policy.SMTP))
            return self.env["mail.router.log"].search([], limit=1)

        log = answer(address, f"{self.contact.name} <{self.contact.email}>", "Prices (edited subject)")
        self.assertEqual(log.stage, "record_address")
        self.assertIn("validly signed", log.reason)
        self.assertIn("Prices (edited subject)", po.message_ids.mapped("subject"))
        local, domain = address.split("@")
        tampered = f"{local[:-1]}{'0' if local[-1] != '0' else '1'}@{domain}"
        log = answer(tampered, "Mallory <mallory@elsewhere.example>", "Forged prices")
        self.assertEqual(log.stage, "quarantine")
        self.assertNotIn("Forged prices", po.message_ids.mapped("subject"))

    # ------------------------------------------------------------------
    # Mail that lost its thread: the record's reference in the Subject
    # ------------------------------------------------------------------

    def by_subject(self, to, sender, subject, **headers):
        """A new mail (no thread header unless ``headers`` give some): its routing log entry."""
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = sender, to, subject
        mail["Message-ID"] = email.utils.make_msgid(domain="vendor.example")
        for name, value in headers.items():
            mail[name.replace("_", "-")] = value
        mail.set_content("Delivery moved to Friday.")
        self.env["mail.thread"].sudo().message_process(False, mail.as_bytes(policy=policy.SMTP))
        return self.env["mail.router.log"].search([], limit=1)

    def purchase_order(self, partner=None, **values):
        return self.env["purchase.order"].create({
            "partner_id": (partner or self.contact).id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_qty": 100, "price_unit": 1.0})],
            **values})

    def assertBySubject(self, log, record, token):
        self.assertEqual((log.stage, log.matched, log.target_record), ("subject_reference", token, record), log.reason)
        self.assertEqual((log.mail_message_id.model, log.mail_message_id.res_id), (record._name, record.id))
        self.assertIn(f"Subject token {token} is the reference of {record._description} {record.display_name}",
                      log.reason)

    def test_new_mail_to_purchase_naming_the_po_lands_on_the_po(self):
        """The vendor writes a new mail to purchase@ naming the PO: on the PO, no new RFQ;
        the same from a stranger makes a new RFQ, and the log says why not by subject."""
        po = self.purchase_order()
        orders = self.env["purchase.order"].search_count([])
        log = self.by_subject("purchase@company.example", f"Ann Vendor <{self.contact.email}>",
                              f"{po.name} \N{EN DASH} delivery moved to Friday")
        self.assertBySubject(log, po, po.name)
        self.assertIn("known to the record", log.reason)
        self.assertEqual(log.alias_id.alias_name, "purchase")
        self.assertEqual(self.env["purchase.order"].search_count([]), orders, "no new RFQ")
        self.assertEqual(log.mail_message_id.author_id, self.contact)

        log = self.by_subject("purchase@company.example", "Mallory <mallory@elsewhere.example>",
                              f"{po.name} \N{EN DASH} new bank account")
        self.assertEqual(log.stage, "alias")
        self.assertIn(f"not routed by subject: Subject token {po.name} is the reference of Purchase Order "
                      f"{po.display_name}, "
                      "but the sender mallory@elsewhere.example is unknown to the record", log.reason)
        self.assertNotIn(f"{po.name} \N{EN DASH} new bank account", po.message_ids.mapped("subject"))
        self.assertEqual(self.env["purchase.order"].search_count([]), orders + 1, "a new RFQ, as from any stranger")

    def test_reply_to_the_catchall_without_thread_headers_lands_by_its_subject(self):
        """Outlook dropped In-Reply-To and References: the quotation's reference, in the
        subject Odoo sent, routes the answer; a relay that rewrote them too."""
        so = self.env["sale.order"].create({
            "partner_id": self.contact.id, "order_line": [(0, 0, {"product_id": self.product.id})]})
        subject = f"RE: {self.env.company.name} Quotation (Ref {so.name})"
        log = self.by_subject("catchall@company.example", self.contact.email, subject)
        self.assertBySubject(log, so, so.name)
        log = self.by_subject("catchall@company.example", self.contact.email, f"Re: {so.name.lower()} again",
                              In_Reply_To="<rewritten-by-a-relay@relay.example>",
                              References="<rewritten-by-a-relay@relay.example>")
        self.assertBySubject(log, so, so.name.lower())

    def test_invoice_number_routes_an_answer_to_the_invoice(self):
        """INV/2026/00012: an answer naming the invoice reaches it, with or without attachment."""
        invoice = self.env["account.move"].create({
            "move_type": "out_invoice", "partner_id": self.contact.id,
            "invoice_line_ids": [(0, 0, {"product_id": self.product.id, "quantity": 1, "price_unit": 10.0})]})
        invoice.action_post()
        self.assertIn("/", invoice.name)
        log = self.by_subject("catchall@company.example", self.contact.email, f"Paid: Invoice {invoice.name}")
        self.assertBySubject(log, invoice, invoice.name)

    def test_a_colleague_at_the_vendor_s_domain(self):
        """With trusted authentication servers: a colleague of the vendor's company, no
        contact yet, lands when DMARC passed for the vendor's domain; not when it failed;
        never from a public domain; a contact of the vendor's company lands as any
        sender known to the record."""
        self.env["ir.config_parameter"].set_param("mail_router.trusted_authserv_ids", "mx.company.example")
        vendor = self.env["res.partner"].create({"name": "Vendor Ltd", "is_company": True,
                                                 "email": "info@vendor.example"})
        self.contact.parent_id = vendor
        po = self.purchase_order()
        passed = "mx.company.example; spf=pass smtp.mailfrom=vendor.example; dmarc=pass header.from=vendor.example"
        failed = "mx.company.example; spf=fail smtp.mailfrom=vendor.example; dmarc=fail header.from=vendor.example"
        log = self.by_subject("catchall@company.example", "Carl <carl@vendor.example>", f"Re: {po.name}",
                              Authentication_Results=passed)
        self.assertBySubject(log, po, po.name)
        self.assertIn("at vendor.example, the domain of the record's partner, DMARC passed for vendor.example",
                      log.reason)
        self.assertEqual(log.authentication, "DMARC passed for vendor.example per mx.company.example")
        log = self.by_subject("catchall@company.example", "Carl <carl@vendor.example>", f"Re: {po.name} (forged)",
                              Authentication_Results=failed)
        self.assertEqual(log.stage, "quarantine")
        self.assertIn("but DMARC failed for vendor.example per mx.company.example", log.reason)
        self.assertNotIn(f"Re: {po.name} (forged)", po.message_ids.mapped("subject"))
        # a contact of the vendor's company, not on the order: known, as for record addresses
        self.env["res.partner"].create({"name": "Dora", "email": "dora@vendor.example", "parent_id": vendor.id})
        log = self.by_subject("catchall@company.example", "dora@vendor.example", f"{po.name} from Dora",
                              Authentication_Results=passed)
        self.assertBySubject(log, po, po.name)
        self.assertIn("known to the record", log.reason)
        # a vendor at gmail.com: gmail.com is no organisation
        solo = self.env["res.partner"].create({"name": "Solo Trader", "email": "solo.trader@gmail.com"})
        solo_po = self.purchase_order(partner=solo)
        gmail = "mx.company.example; dkim=pass header.d=gmail.com; dmarc=pass header.from=gmail.com"
        log = self.by_subject("catchall@company.example", "someone.else@gmail.com", f"Re: {solo_po.name}",
                              Authentication_Results=gmail)
        self.assertEqual(log.stage, "quarantine")
        self.assertIn("gmail.com is a public mail domain", log.reason)
        log = self.by_subject("catchall@company.example", "solo.trader@gmail.com", f"Re: {solo_po.name}",
                              Authentication_Results=gmail)
        self.assertBySubject(log, solo_po, solo_po.name)

    def test_the_same_reference_in_two_models(self):
        """A quotation named as a PO: to the catchall, ambiguous (quarantined, the log says
        why); to purchase@, the alias narrows it to the PO."""
        po = self.purchase_order()
        so = self.env["sale.order"].create({"partner_id": self.contact.id, "name": po.name})
        log = self.by_subject("catchall@company.example", self.contact.email, f"Re: {po.name}")
        self.assertEqual(log.stage, "quarantine")
        self.assertIn(f"names more than one record (Purchase Order {po.name}, Sales Order {so.name})", log.reason)
        log = self.by_subject("purchase@company.example", self.contact.email, f"Re: {po.name}")
        self.assertBySubject(log, po, po.name)
        log = self.by_subject("sales@company.example", self.contact.email, f"Re: {po.name}")
        self.assertBySubject(log, so, po.name)

    def test_a_record_of_another_company_only_through_its_own_domain(self):
        """A company with an alias domain of its own: its PO is not reached through the
        first company's catchall, only through its own."""
        other_domain = self.env["mail.alias.domain"].create({"name": "other.example", "catchall_alias": "catchall"})
        other = self.env["res.company"].create({"name": "Other Co", "alias_domain_id": other_domain.id})
        po = self.purchase_order(company_id=other.id)
        log = self.by_subject("catchall@company.example", self.contact.email, f"Re: {po.name} (wrong company)")
        self.assertEqual(log.stage, "quarantine")
        self.assertNotIn("not routed by subject", log.reason, "a record of another company is not even named")
        log = self.by_subject("catchall@other.example", self.contact.email, f"Re: {po.name}")
        self.assertBySubject(log, po, po.name)

"""The mail the benchmark feeds: vendors answering their purchase order's message, and
offers sent to the purchase alias. Raw bytes as a mail client sends them (CRLF)."""
import os
from email import policy
from email.message import EmailMessage
from email.utils import formatdate

# Out of every 5 mails: 2 replies by In-Reply-To, 2 by References only, 1 to the alias.
KINDS = ("in_reply_to", "references", "in_reply_to", "references", "alias")
ATTACHMENT_EVERY = 4  # every 4th mail carries a small PDF
ATTACHMENT_BYTES = 6000
DOMAIN = "company.example"
CATCHALL = f"catchall@{DOMAIN}"
ALIAS = f"offers@{DOMAIN}"


def vendor_email(index):
    return f"vendor{index}@vendor{index % 10}.example"


def batch(tag, orders):
    """[(Message-ID, raw, expected)] for one run: one mail per purchase order;
    ``orders``: [{"id", "name", "message_id"}] in vendor order. ``expected`` is the
    PO id the mail must land on, or None for a new RFQ (alias)."""
    mails = []
    for index, order in enumerate(orders):
        kind = KINDS[index % len(KINDS)]
        message_id = f"<{tag}.{index}.{kind}@vendor{index % 10}.example>"
        raw = mail(kind, index, message_id, order, attachment=index % ATTACHMENT_EVERY == 0)
        mails.append((message_id, raw, None if kind == "alias" else order["id"]))
    return mails


def mail(kind, index, message_id, order, attachment=False, attachment_bytes=ATTACHMENT_BYTES):
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = f"Vendor {index} <{vendor_email(index)}>"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id
    message["MIME-Version"] = "1.0"
    if kind == "alias":
        message["To"] = ALIAS
        message["Subject"] = f"Our offer {message_id[1:12]}"
    else:
        message["To"] = CATCHALL
        message["Subject"] = f"Re: {order['name']} request for quotation"
        if kind == "in_reply_to":
            message["In-Reply-To"] = order["message_id"]
            message["References"] = order["message_id"]
        else:  # References only: ids of other mail around ours, as mail clients and relays leave them
            foreign = [f"<{index}.{n}.thread@mx.vendor{index % 10}.example>" for n in range(3)]
            message["References"] = " ".join(foreign[:2] + [order["message_id"], foreign[2]])
    text = ("Hello,\n\nthank you for your request. "
            "We can deliver within two weeks.\n" + "Details of our terms and conditions follow.\n" * 15
            + "\nBest regards,\nVendor\n")
    message.set_content(text)
    message.add_alternative("<html><body>" + "".join(f"<p>{line}</p>" for line in text.splitlines())
                            + "</body></html>", subtype="html")
    if attachment:
        message.add_attachment(_pdf_like(attachment_bytes), maintype="application", subtype="pdf",
                               filename=f"quote-{index}.pdf")
    return message.as_bytes()


def big_reply(message_id, order, raw_bytes):
    """A reply by In-Reply-To whose attachment makes the raw mail about ``raw_bytes`` long
    (base64 makes 57 bytes 78 with the line end)."""
    return mail("in_reply_to", 0, message_id, order, attachment=True,
                attachment_bytes=int(raw_bytes * 57 / 78))


def routing_mail(in_reply_to, to=CATCHALL, index=0):
    """A short reply for the routing benchmark (In-Reply-To and References the same id)."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = f"Vendor {index} <{vendor_email(index)}>"
    message["To"] = to
    message["Subject"] = "Re: your message"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = f"<routing.{os.urandom(6).hex()}@vendor{index % 10}.example>"
    message["In-Reply-To"] = in_reply_to
    message["References"] = in_reply_to
    message.set_content("Noted, thanks.\n")
    return message.as_bytes()


def _pdf_like(size):
    """Bytes that look like a PDF to a MIME sniffer, random after the header: they do
    not compress, as real attachments mostly do not."""
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    return head + os.urandom(max(0, size - len(head)))

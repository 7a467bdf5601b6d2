"""Hypothesis strategies for incoming mail: real mails mutated, and hostile mail made from scratch.

Pure Python, no Odoo: what a mail can name in the database (our addresses, stored
Message-IDs) comes in a ``Targets``. Strategies draw small choices (which header, how
many ids, which charset, how deep) and build the bytes from them: a mail with 10,000
References ids costs hypothesis one integer, and shrinks to fewer ids.

    incoming_mails(targets, corpus)   -> Delivery: raw bytes, the model argument, how many times
"""
import base64
import functools
import quopri
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from hypothesis import strategies as st

CRLF = b"\r\n"
# How many References ids, extra header lines, header bytes, nesting levels: the first
# value is where shrinking goes; the large ones are what no real mail has, and are
# drawn rarely (``mostly``), so that a run spends its time on many cases, not a few huge ones.
ID_COUNTS = (1, 2, 33, 1000, 10_000)
HEADER_COUNTS = (0, 500, 5000)
HEADER_SIZES = (0, 5000, 200_000)
# Python's recursion limit is 1000; 200 attached messages, each written out again by
# stock for its attachment, cost seconds: rare, as the others.
NESTING_DEPTHS = (3, 30, 200, 1200, 5000)
HTML_DEPTHS = (3, 300, 20_000)

WILDCARD_ADDRESSES = (
    b"%@%", b"_@_", b"%", b"%@vendor.example", b"ann%@vendor.example", b"_nn@vendor.example",
    b'"%"@vendor.example', b"ANN@VENDOR.EXAMPLE", b"ann\\@vendor.example",
)
TRICKY_ADDRESSES = (
    b'"Ann, Vendor" <ann@vendor.example>', b"ann@vendor.example (Ann <evil@x.example>)",
    b'"quoted \\" name" <ann@vendor.example>', b"<@relay.example:ann@vendor.example>",
    b"ann@vendor.example, evil@x.example", b"undisclosed-recipients:;", b"<>", b'"@"@"@"',
    b"=?utf-8?b?QW5u?= <ann@vendor.example>", b"a" * 300 + b"@vendor.example", b"O'Brien@x.example",
    b"ann@[127.0.0.1]", b"mailer-daemon@vendor.example", b"postmaster", b"ann@vendor.example>",
    b"<ann@vendor.example", b"(comment only)", b"Ann <ann@vendor.example> <evil@x.example>",
    b"ann@vendor.example\x00evil@x.example", b"=?utf-7?q?+2AA-?= <ann@vendor.example>",
)
# Header text that decodes badly: lone surrogates (UTF-7, unicode-escape, surrogates as
# UTF-8 bytes, 8-bit bytes the parser keeps as surrogate escapes), NUL, control bytes,
# unknown or broken charsets, unfinished encoded words.
HOSTILE_TEXT = (
    b"=?utf-7?q?+2AA-?=", b"=?unicode-escape?q?=5Cud800?=", b"=?raw-unicode-escape?b?XHVkZmZm?=",
    b"=?utf-8?b?7aCA?=", b"\xed\xa0\x80", b"\xff\xfe", b"\x80", b"=?x-unknown?q?caf=E9?=",
    b"=?utf-8?q?nul=00byte?=", b"\x00", b"\x01\x02\x1b[31m\x7f", b"=?iso-8859-1?b?////?=",
    b"=?utf-8?b?", b"=??=", b"=?utf-8*en?q?x?=", b"caf\xc3\xa9", b"\xe9t\xe9", b"\r", b"\t",
    b"=?utf-16?b?2AA=?=", b"=?utf-8?q?=C3?=", b"REJECTED", b"Re: Re: Fwd:", b"%", b"_", b"'; --",
)
CHARSETS = (
    b"utf-8", b"us-ascii", b"iso-8859-1", b"windows-1252", b"utf-16", b"utf-7", b"unicode-escape",
    b"x-unknown", b"", b"utf-8''", b'"', b"shift_jis", b"iso-2022-jp", b"utf8mb4", b"\xff", b"base64", b"rot13",
)
TRANSFER_ENCODINGS = (b"7bit", b"8bit", b"binary", b"base64", b"quoted-printable", b"x-uuencode", b"bogus", b"")
CONTENT_TYPES = (
    b"text/plain", b"text/html", b"application/octet-stream", b"image/png", b"message/delivery-status",
    b"text/rfc822-headers", b"text/calendar", b"application/pdf", b"", b"garbage", b"text/", b"/",
    b"font/woff2", b"x-custom/thing", b"text/plain; charset", b"binary/octet-stream",
)
PAYLOAD_SNIPPETS = (
    b"\x00", b"\x00" * 64, b"\xed\xa0\x80", b"\\ud800", b"+2AA-", b"\xff\xfe\x00\xd8", b"<html><body>",
    b"</p>", b"\r\n.\r\n", b"--", b"=\r\n", b"=ZZ", b"\x1b", b"\x7f", b"caf\xc3\xa9", b"\xe9",
    b"<script>alert(1)</script>", b"<img src=x onerror=alert(1)>", b"<![CDATA[", b"&#0;", b"&#xD800;",
)
FILENAMES = (
    b'filename="../../etc/passwd"', b"filename*=x-unknown''%FF%00.txt", b"filename*=utf-8''%ED%A0%80.pdf",
    b'filename="=?utf-7?q?+2AA-?=.txt"', b'filename="' + b"n" * 5000 + b'"', b'filename="a\x00b"',
    b"filename*0*=utf-8''%C3; filename*1*=%A9", b"filename=", b'name="report.pdf"',
)
AUTO_HEADERS = (
    b"Auto-Submitted: auto-replied", b"Auto-Submitted: no", b"Precedence: list", b"Precedence: bulk",
    b"Precedence: auto_reply", b"List-Id: <sales.vendor.example>", b"X-Autoreply: yes", b"Return-Path: <>",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=r",
)
HEADER_NAMES = (b"Subject", b"From", b"To", b"Cc", b"Reply-To", b"Date", b"Content-Type",
                b"MIME-Version", b"Delivered-To", b"X-Odoo-Objects", b"Message-ID", b"X-Anything", b"")
LINE_ENDINGS = (CRLF, b"\n", b"\r")
BOUNDARY_FLAWS = ("none", "no parameter", "unused", "unclosed", "empty", "long", "unquoted space")
MULTIPART_SUBTYPES = (b"mixed", b"alternative", b"related", b"report; report-type=delivery-status")
MESSAGE_IDS = (b"", b"<>", b"<a b@c.example>", b"<\x00@x.example>", b"no-brackets@x.example",
               b"<a@x.example> <b@x.example>", b"=?utf-8?b?PGFAYi5leGFtcGxlPg==?=",
               b"<\xed\xa0\x80@x.example>", b"<%@%>", b"<a@x.example")
# Strategies are built once, here or in a cached function of the Targets: building
# one at each draw costs more than the draw.


@dataclass(frozen=True)
class Targets:
    """What the fuzzed database holds that a mail can name, so that mail gets posted too."""
    recipients: tuple[str, ...]     # our addresses: aliases, plus addresses, catchall, bounce
    senders: tuple[str, ...]        # partners the database knows
    stored_ids: tuple[str, ...]     # Message-IDs of messages on records
    signed_ids: tuple[str, ...]     # ids of our form with no stored message: valid, bad, of no record
    references: tuple[str, ...]     # references of records (their name), for a Subject to name them


def mostly(values, common=1):
    """One of ``values``: one of the first ``common`` 19 times in 20, else one of the others."""
    usual, rare = values[:common], values[common:]
    return st.sampled_from(usual * (19 * len(rare)) + rare * len(usual))


class Delivery:
    """One fuzz case: ``raw`` given to message_process(``model``, raw), ``times`` times in a row."""

    __slots__ = ("model", "raw", "times")

    def __init__(self, raw, model, times):
        self.raw, self.model, self.times = raw, model, times

    def __repr__(self):
        # What hypothesis prints for a failing case: huge inputs would drown the report.
        shown = self.raw if len(self.raw) <= 3000 else self.raw[:3000] + b"..."
        return f"Delivery(model={self.model!r}, times={self.times}, {len(self.raw)} bytes: {shown!r})"


def incoming_mails(targets, corpus=None):
    """Deliveries of real mails mutated (``corpus``: file name -> bytes, when there are
    some), well-formed mail that routes (replies, alias mail, mail that lost its thread
    headers and names its record in the Subject) lightly broken, and hostile mail."""
    kinds = [mutated_mail(well_formed_mail(targets), targets), mutated_mail(lost_thread_mail(targets), targets),
             hostile_mail(targets)]
    if corpus:
        kinds.append(mutated_mail(st.sampled_from(sorted(corpus)).map(corpus.__getitem__), targets))
    return st.builds(Delivery, st.one_of(*kinds), st.sampled_from((None, "mail.router.test.ticket")),
                     st.sampled_from((1, 2)))


# ----------------------------------------------------------------------
# Headers
# ----------------------------------------------------------------------

def header_line(name, value):
    return name + b": " + value


def ours(values):
    return st.sampled_from([value.encode() for value in values])


HEADER_TEXTS = st.lists(st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=20).map(str.encode),
                                  st.binary(max_size=8)), max_size=4).map(b" ".join)
HUGE_IDS = st.sampled_from((999, 10_000, 100_000)).map(lambda n: b"<" + b"x" * n + b"@vendor.example>")
FRESH_IDS = st.integers(0, 2**32).map(lambda n: b"<fuzz-%d@vendor.example>" % n)
OTHER_HEADERS = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_TEXTS).map(lambda item: header_line(*item)),
                         max_size=3)


@functools.cache
def addresses(targets):
    return st.one_of(ours(targets.senders), ours(targets.recipients), st.sampled_from(WILDCARD_ADDRESSES),
                     st.sampled_from(TRICKY_ADDRESSES), st.binary(max_size=12).map(lambda b: b + b"@x.example"))


@functools.cache
def address_lists(targets):
    return st.lists(st.one_of(ours(targets.recipients), addresses(targets)), min_size=1, max_size=3).map(b", ".join)


@functools.cache
def known_ids(targets):
    return ours(targets.stored_ids + targets.signed_ids)


@functools.cache
def message_ids(targets):
    return st.one_of(FRESH_IDS, st.sampled_from(MESSAGE_IDS), known_ids(targets), HUGE_IDS)


def reference_list(count, known, where, separator):
    """``count`` ids with ``known`` first, last or nowhere, joined by ``separator`` (folding)."""
    ids = [b"<ref-%d@vendor.example>" % n for n in range(count)]
    if where != "nowhere":
        ids[-1 if where == "last" else 0] = known
    return separator.join(ids)


@functools.cache
def reference_lists(targets):
    return st.builds(reference_list, mostly(ID_COUNTS, common=3), known_ids(targets),
                     st.sampled_from(("last", "first", "nowhere")), st.sampled_from((b"\r\n ", b" ", b"")))


# How a Subject names a record: as Odoo's mail does, as a reply or forward, in brackets,
# lower-case, beside words with digits that name nothing.
SUBJECT_FORMS = ("{}", "Re: {}", "RE: Fwd: AW: [{}] delivery", "My Company Order (Ref {})",
                 "{} \N{EN DASH} delivery moved to Friday", "Re[2]: {}.", "2026-12-05: {} and X100")


@functools.cache
def naming_subjects(targets):
    """Subjects naming a record by its reference (the subject_reference stage)."""
    return st.builds(lambda form, reference, lower: form.format(reference.lower() if lower else reference),
                     st.sampled_from(SUBJECT_FORMS), st.sampled_from(targets.references), st.booleans())


@functools.cache
def routing_fields(targets):
    """(name, strategy of its value or None: no such header) of the fields routing reads."""
    fields = (
        (b"From", addresses(targets)),
        (b"To", address_lists(targets)),
        (b"Cc", address_lists(targets)),
        (b"Subject", st.one_of(HEADER_TEXTS, naming_subjects(targets).map(str.encode))),
        (b"Message-ID", message_ids(targets)),
        (b"In-Reply-To", st.one_of(known_ids(targets), message_ids(targets))),
        (b"References", reference_lists(targets)),
    )
    return tuple((name, st.none() | strategy) for name, strategy in fields)


AUTO_HEADER_LISTS = st.lists(st.sampled_from(AUTO_HEADERS), max_size=2)
FLOOD_COUNTS = mostly(HEADER_COUNTS)
HUGE_SIZES = mostly(HEADER_SIZES)


@st.composite
def header_lines(draw, targets):
    """Header lines of a mail that could route somewhere, each field present or not, and
    sometimes thousands of lines or one huge one."""
    lines = [header_line(name, value) for name, strategy in routing_fields(targets)
             if (value := draw(strategy)) is not None]
    lines += draw(AUTO_HEADER_LISTS) + draw(OTHER_HEADERS)
    lines += [b"X-Flood-%d: %d" % (n, n) for n in range(draw(FLOOD_COUNTS))]
    if huge := draw(HUGE_SIZES):
        lines.append(b"X-Huge: " + b"h" * huge)
    return lines


# ----------------------------------------------------------------------
# Bodies
# ----------------------------------------------------------------------

PAYLOADS = st.lists(st.one_of(st.sampled_from(PAYLOAD_SNIPPETS), st.text(max_size=40).map(str.encode),
                              st.binary(max_size=40)), max_size=5).map(b"".join)
DEEP_HTML = mostly(HTML_DEPTHS).map(lambda depth: b"<div>" * depth + b"x")


def encode(cte, payload, flaw):
    """``payload`` in the transfer encoding ``cte``: right (flaw 0) or broken (1 to 4)."""
    if cte == b"base64":
        text = base64.encodebytes(payload)
        return (text, text.rstrip(b"=\n"), b"!!" + text, text[:-3] + b"=A=", b"\xff" + text)[flaw]
    if cte == b"quoted-printable":
        text = quopri.encodestring(payload)
        return (text, text + b"=", b"=ZZ" + text, text + b"=4", b"=\xff" + text)[flaw]
    return payload


def leaf_part(content_type, charset, cte, filename, payload, flaw):
    """A part that is not multipart; ``None``: no such parameter or header."""
    headers = [header_line(b"Content-Type", content_type + (b"; charset=" + charset if charset is not None else b""))]
    if cte is not None:
        headers.append(header_line(b"Content-Transfer-Encoding", cte))
    if filename is not None:
        headers.append(b"Content-Disposition: attachment; " + filename)
    return CRLF.join(headers) + CRLF + CRLF + encode(cte, payload, flaw)


LEAF_PARTS = st.builds(
    leaf_part, st.sampled_from(CONTENT_TYPES), st.none() | st.sampled_from(CHARSETS),
    st.none() | st.sampled_from(TRANSFER_ENCODINGS), st.none() | st.sampled_from(FILENAMES),
    st.one_of(PAYLOADS, DEEP_HTML), st.integers(0, 4))


def multipart(parts, boundary, flaw, subtype):
    """A multipart of ``parts``, its boundary right, or missing, unused, unclosed, empty..."""
    used, declared, closed = boundary, b'; boundary="' + boundary + b'"', True
    if flaw == "no parameter":
        declared = b""
    elif flaw == "unused":
        used = b"other"
    elif flaw == "unclosed":
        closed = False
    elif flaw == "empty":
        declared, used = b'; boundary=""', b""
    elif flaw == "long":
        used = b"L" * 200
        declared = b'; boundary="' + used + b'"'
    elif flaw == "unquoted space":
        declared = b"; boundary=" + boundary + b" x"
    head = b"Content-Type: multipart/" + subtype + declared + CRLF + CRLF + b"preamble" + CRLF
    body = b"".join(b"--" + used + CRLF + part + CRLF for part in parts)
    return head + body + (b"--" + used + b"--" + CRLF + b"epilogue" if closed else b"")


def attached_message(inner):
    return b"Content-Type: message/rfc822" + CRLF + CRLF + inner


def containers(children):
    return st.one_of(
        st.builds(multipart, st.lists(children, min_size=1, max_size=3), st.sampled_from((b"b1", b"b2", b"b3")),
                  st.sampled_from(BOUNDARY_FLAWS), st.sampled_from(MULTIPART_SUBTYPES)),
        children.map(attached_message))


MIME_TREES = st.recursive(LEAF_PARTS, containers, max_leaves=5)


def deep_nesting(depth, kind, closed):
    """Multiparts or attached messages nested ``depth`` levels deep; built without
    recursion, as deep as no parser that recurses can follow."""
    leaf = b"Content-Type: text/plain" + CRLF + CRLF + b"the bottom" + CRLF
    if kind == "rfc822":
        return attached_message(b"") * depth + leaf
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (n, n) for n in range(depth))
    closing = b"".join(b"\r\n--n%d--\r\n" % n for n in reversed(range(depth))) if closed else b""
    return opening + leaf + closing


DEEP_NESTINGS = st.builds(deep_nesting, mostly(NESTING_DEPTHS, common=2), st.sampled_from(("multipart", "rfc822")),
                          st.booleans())
ENTITIES = st.one_of(MIME_TREES, DEEP_NESTINGS, PAYLOADS.map(lambda body: CRLF + body))
MIME_VERSIONS = st.sampled_from(([b"MIME-Version: 1.0"], []))


@st.composite
def hostile_mail(draw, targets):
    """Headers that route or not, a body that is broken in any of many ways."""
    lines = draw(header_lines(targets)) + draw(MIME_VERSIONS)
    entity = draw(ENTITIES)
    return (CRLF.join(lines) + CRLF + entity).replace(CRLF, draw(st.sampled_from(LINE_ENDINGS)))


# ----------------------------------------------------------------------
# Well-formed mail, and mutations of any mail
# ----------------------------------------------------------------------

def clean_texts(max_size):
    # EmailMessage refuses line breaks in headers; every other character is fair.
    return st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=max_size)


def well_formed(sender, recipient, subject, number, replied, text, html, attachment):
    """A mail as a client writes it; ``None``: no reply, no HTML, no attachment."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, recipient, subject
    mail["Message-ID"] = f"<wf-{number}@vendor.example>"
    if replied is not None:
        mail["In-Reply-To"] = mail["References"] = replied
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(f"<p>{html}</p>", subtype="html")
    if attachment is not None:
        filename, data = attachment
        mail.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename or "file.bin")
    for number_, part in enumerate(mail.walk()):
        if part.is_multipart():  # Python would draw them at random: a case must replay the same
            part.set_boundary(f"=_wf_{number_}")
    return mail.as_bytes(policy=policy.SMTP.clone(max_line_length=0))


@functools.cache
def well_formed_mail(targets):
    """A reply to a stored message or to one of ours, or mail to an alias or a plus
    address, by a known sender or not, its Subject naming a record or not; sometimes
    HTML and an attachment."""
    return st.builds(
        well_formed, st.sampled_from((*targets.senders, "stranger@elsewhere.example")),
        st.sampled_from(targets.recipients), st.one_of(clean_texts(40), naming_subjects(targets)),
        st.integers(0, 2**32),
        st.none() | st.sampled_from(targets.stored_ids + targets.signed_ids), clean_texts(200),
        st.none() | clean_texts(40), st.none() | st.tuples(clean_texts(20), st.binary(max_size=64)))


@functools.cache
def lost_thread_mail(targets):
    """A new mail, or a reply whose client dropped its thread headers, naming a record in
    its Subject (the subject_reference stage), by a sender known to it or not."""
    return st.builds(
        well_formed, st.sampled_from((*targets.senders, "stranger@elsewhere.example")),
        st.sampled_from(targets.recipients), naming_subjects(targets), st.integers(0, 2**32), st.none(),
        clean_texts(200), st.none() | clean_texts(40), st.none() | st.tuples(clean_texts(20), st.binary(max_size=64)))


def set_header(raw, name, value):
    """``raw`` with its first ``name`` header (folded lines included) replaced, or prepended."""
    field = re.compile(rb"(?im)^" + re.escape(name) + rb":[^\n]*(\n[ \t][^\n]*)*\r?$")
    line = header_line(name, value)
    replaced, count = field.subn(lambda _match: line, raw, count=1)
    return replaced if count else line + CRLF + raw


def at(raw, fraction):
    return int(len(raw) * fraction)


_CHARSET = re.compile(rb'(?i)charset="?[\w.:-]*"?')
_BOUNDARY = re.compile(rb'(?i)boundary="?[^";\s]+')
# name -> f(raw, where: a fraction of the length, data: bytes)
BYTE_MUTATIONS = {
    "insert": lambda raw, where, data: raw[:at(raw, where)] + data + raw[at(raw, where):],
    "overwrite": lambda raw, where, data: raw[:at(raw, where)] + data + raw[at(raw, where) + len(data):],
    "delete": lambda raw, where, data: raw[:at(raw, where)] + raw[at(raw, where) + len(data) * 8:],
    "truncate": lambda raw, where, _data: raw[:at(raw, where)],
    "duplicate": lambda raw, where, _data: raw[:at(raw, where)] + raw[at(raw, where) // 2:],
    "bare LF": lambda raw, _where, _data: raw.replace(CRLF, b"\n"),
    "bare CR": lambda raw, _where, _data: raw.replace(CRLF, b"\r").replace(b"\n", b"\r"),
    "charset": lambda raw, _where, data: _CHARSET.sub(lambda _match: b"charset=" + data, raw, count=1),
    "boundary": lambda raw, _where, data: _BOUNDARY.sub(lambda _match: b'boundary="' + data, raw, count=1),
}
MUTATION_DATA = st.one_of(st.sampled_from(PAYLOAD_SNIPPETS + HOSTILE_TEXT + CHARSETS + TRANSFER_ENCODINGS),
                          st.binary(min_size=1, max_size=16))


@functools.cache
def mutation_lists(targets):
    """A few changes to a mail, each (kind, where, data): bytes in, out, or moved; a
    charset or boundary changed; a header set to a value that routes, or to a hostile one."""
    on_bytes = st.tuples(st.sampled_from(sorted(BYTE_MUTATIONS)), st.floats(0, 1), MUTATION_DATA)
    routing = st.one_of(
        st.tuples(st.just("header"), st.sampled_from((b"To", b"In-Reply-To", b"References")),
                  ours(targets.recipients + targets.stored_ids + targets.signed_ids)),
        st.tuples(st.just("header"), st.just(b"Subject"), naming_subjects(targets).map(str.encode)))
    hostile = st.tuples(st.just("header"), st.sampled_from((*HEADER_NAMES, b"Content-Transfer-Encoding")),
                        st.one_of(HEADER_TEXTS, addresses(targets), message_ids(targets)))
    return st.lists(st.one_of(on_bytes, routing, hostile), max_size=3)


def mutate(raw, mutation):
    kind, where, data = mutation  # for "header", where is the header's name
    return set_header(raw, where, data) if kind == "header" else BYTE_MUTATIONS[kind](raw, where, data)


def mutated(raw, mutations):
    for mutation in mutations:
        raw = mutate(raw, mutation)
    return raw


def mutated_mail(mails, targets):
    """One of ``mails``, as it is or changed by a few mutations (none: where shrinking goes)."""
    return st.builds(mutated, mails, mutation_lists(targets))

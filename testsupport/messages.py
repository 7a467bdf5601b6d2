"""Raw test messages, in the form servers keep them (CRLF line ends), with
what tends to break byte-exact transfer: lines starting with a dot (POP3
dot-stuffing), 8-bit bytes, a line longer than poplib's 2048-byte default."""

LONG_LINE = b'x' * 5000


def sample_message(index: int, *, size: int = 0) -> bytes:
    """Message number ``index``, with a unique Message-ID; ``size`` adds
    that many bytes of body, to make a message that takes several reads."""
    head = (f"From: Sender {index} <sender{index}@example.com>\r\n"
            f"To: inbox@example.com\r\n"
            f"Subject: Test message {index}\r\n"
            f"Message-ID: <test-{index}@example.com>\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=iso-8859-1\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n"
            f"\r\n").encode('ascii')
    body = (b"Caf\xe9 cr\xe8me, \xa3 and \xff\r\n"
            b".a line starting with a dot\r\n"
            b"..two dots\r\n"
            b".\r\n"
            b"trailing spaces   \r\n"
            + LONG_LINE + b"\r\n"
            + b''.join(b'%075d\r\n' % line for line in range(size // 77))
            + b"-- end\r\n")
    return head + body

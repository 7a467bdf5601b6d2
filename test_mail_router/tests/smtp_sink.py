"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1) that keeps what it receives."""
import socket

from aiosmtpd.controller import Controller


class SmtpSink:
    """aiosmtpd handler keeping what it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_smtp_sink(test_class):
    """An SMTP sink for ``test_class`` (stopped at its cleanup), the database's only
    outgoing mail server: returns the SmtpSink."""
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    test_class.addClassCleanup(controller.stop)
    test_class.env["ir.mail_server"].search([]).unlink()
    test_class.env["ir.mail_server"].create({
        "name": "test SMTP", "smtp_host": "127.0.0.1", "smtp_port": controller.port, "smtp_encryption": "none"})
    return sink

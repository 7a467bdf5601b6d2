"""The HTTP port of `make run` (MAIL_ROUTER_HTTP_PORT, default 8069), checked before
anything is set up or installed: taken, `make run` stops at once and says, in one line,
how to run on another. run_odoo.py checks it again just before starting Odoo, as the
set-up takes minutes. Standard library only: it runs before the virtualenv exists.

    python3 scripts/http_port.py     exits 1, with the line to type, when the port is taken
"""
import os
import socket
import sys

VARIABLE = "MAIL_ROUTER_HTTP_PORT"
DEFAULT = 8069
INTERFACE = "127.0.0.1"
PORTS = range(1, 65536)


class PortProblem(Exception):
    """The port cannot be used; str() says what to do, in one line."""


def configured_port():
    value = os.environ.get(VARIABLE, str(DEFAULT)).strip()
    if not value.isdigit() or int(value) not in PORTS:
        raise PortProblem(f"make run: {VARIABLE}={value!r} is not a port number; for example: "
                          f"{VARIABLE}={DEFAULT + 1} make run")
    return int(value)


def in_use(port, interface=INTERFACE):
    """Whether Odoo could not listen on ``port``: something listens there (on this
    interface or on all). SO_REUSEADDR, as Odoo's server sets it: a port in TIME_WAIT
    after the last run is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((interface, port))
        except OSError:
            return True
    return False


def free_port_after(port):
    candidates = (candidate for candidate in range(port + 1, port + 100) if candidate in PORTS)
    return next((candidate for candidate in candidates if not in_use(candidate)), None)


def check(port=None):
    """The port to run on; PortProblem when it is taken or not a port."""
    port = configured_port() if port is None else port
    if in_use(port):
        other = free_port_after(port)
        fix = f"{VARIABLE}={other} make run" if other else f"{VARIABLE}=<a free port> make run"
        raise PortProblem(f"make run: port {port} on {INTERFACE} is already in use (another Odoo?); "
                          f"run on a free one: {fix}")
    return port


def main():
    try:
        check()
    except PortProblem as problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Test harness shared by the plain pytest suites and the Odoo tests: real
servers (Dovecot), certificates and a TCP proxy, usable as plain context
managers; ``fixtures`` wraps them for pytest."""

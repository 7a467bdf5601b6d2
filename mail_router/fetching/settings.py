from dataclasses import dataclass

SECURITIES = ('ssl', 'starttls', 'none')
HIGHEST_PORT = 65535


@dataclass(frozen=True)
class ConnectionSettings:
    """Where a mail server is and how to reach it safely.

    ``security``: 'ssl' is TLS from the first byte (ports 993/995);
    'starttls' upgrades a plain connection and fails when the server does not
    offer the upgrade, never falling back to clear text; 'none' is clear text,
    chosen explicitly.
    """
    host: str
    port: int
    security: str
    timeout: float = 60.0
    # Extra CA to trust, on top of the system store (and SSL_CERT_FILE).
    ca_file: str | None = None
    # False: accept any certificate for any name. Explicit opt-in only.
    verify: bool = True

    def __post_init__(self):
        if self.security not in SECURITIES:
            raise ValueError(f"security must be one of {SECURITIES}, not {self.security!r}")
        if not 0 < self.port <= HIGHEST_PORT:
            raise ValueError(f"port must be between 1 and {HIGHEST_PORT}, not {self.port}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, not {self.timeout}")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

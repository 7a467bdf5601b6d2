"""Whether the From address of a mail was authenticated, per our own mail server.

A sender can write any From, and any Authentication-Results header too (RFC 8601).
Only the headers of the receiving servers named as trusted (their authserv-id) are
read, and of those only the topmost: servers add theirs on top, so anything below is
what the mail carried when it reached us. The From domain is authenticated by a DMARC
pass, or, with no DMARC result, by a DKIM or SPF pass aligned with it.
"""
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

_COMMENT = re.compile(r'\([^()]*\)')
_PROPERTY = re.compile(r'([\w.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]+)')


@dataclass(frozen=True)
class Verdict:
    authenticated: bool     # the From domain passed
    reason: str             # one sentence for the routing log: what the server said
    failed: bool = False    # DMARC failed outright: the From is forged or broken


def verdict(header_values: Sequence[str], trusted: Collection[str], from_email: str) -> Verdict | None:
    """What our trusted servers (authserv-ids ``trusted``) say of ``from_email``, from the
    Authentication-Results ``header_values`` (in header order, topmost first); None
    when no server is trusted."""
    if not trusted:  # From is taken as written
        return None
    trusted = {server.lower() for server in trusted}
    domain = from_email.rpartition('@')[2].lower()
    for value in header_values:
        server, results = parse(value)
        if server in trusted:
            return _judge(server, results, domain)
    return Verdict(False, f'no Authentication-Results from {", ".join(sorted(trusted))}')


def parse(value: str) -> tuple[str, tuple[tuple[str, str, dict[str, str]], ...]]:
    """(authserv-id, ((method, result, {ptype.property: value}), ...)) of one header value."""
    head, *resinfos = _COMMENT.sub(' ', _COMMENT.sub(' ', value)).split(';')
    server = next(iter(head.split()), '').lower()
    results = []
    for resinfo in resinfos:
        pairs = [(key.lower(), raw.strip('"').lower()) for key, raw in _PROPERTY.findall(resinfo)]
        if pairs:
            (method, result), properties = pairs[0], dict(pairs[1:])
            results.append((method.partition('/')[0], result, properties))
    return server, tuple(results)


def _judge(server: str, results, domain: str) -> Verdict:
    dmarc = [result for method, result, props in results
             if method == 'dmarc' and props.get('header.from', domain) == domain]
    if 'pass' in dmarc:
        return Verdict(True, f'DMARC passed for {domain} per {server}')
    if 'fail' in dmarc:
        return Verdict(False, f'DMARC failed for {domain} per {server}', failed=True)
    for method, result, props in results:
        signer = {'dkim': props.get('header.d') or props.get('header.i', '').rpartition('@')[2],
                  'spf': props.get('smtp.mailfrom', '').rpartition('@')[2]}.get(method)
        if result == 'pass' and signer and _aligned(signer, domain):
            return Verdict(True, f'{method.upper()} passed for {signer}, aligned with {domain}, per {server}')
    return Verdict(False, f'no DMARC, nor aligned DKIM or SPF pass for {domain} per {server}')


def _aligned(signer: str, domain: str) -> bool:
    """DMARC's relaxed alignment, without a public-suffix list: one domain is the other
    or a subdomain of it (never a bare top-level domain)."""
    return '.' in signer and (signer == domain or domain.endswith('.' + signer) or signer.endswith('.' + domain))

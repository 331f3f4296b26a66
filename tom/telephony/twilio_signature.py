"""X-Twilio-Signature: proof that a webhook request came from Twilio for this URL and body."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import TypeAlias
from urllib.parse import urlsplit, urlunsplit

SignatureParams: TypeAlias = Mapping[str, str | Sequence[str]]


def compute_signature(auth_token: str, url: str, params: SignatureParams | None = None) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL + each POST key and value, sorted by key."""
    given = params or {}
    parts = [url]
    for key in sorted(given):
        value = given[key]
        values = [value] if isinstance(value, str) else list(value)
        parts.extend(key + v for v in sorted(set(values)))
    digest = hmac.new(auth_token.encode("utf-8"), "".join(parts).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """Twilio may sign with or without the default port; accept both spellings of the URL."""
    variants = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return variants
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = userinfo + "@" if userinfo else ""
    default = {"https": 443, "http": 80, "wss": 443, "ws": 80}.get(parts.scheme)
    if port is not None:
        variants.append(urlunsplit(parts._replace(netloc=prefix + host)))
    elif default is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
    return variants


def validate_signature(auth_token: str, url: str, params: SignatureParams | None,
                       signature: str | None) -> bool:
    """True when `signature` proves the request came from Twilio for this URL and body."""
    if not auth_token or not signature:
        return False
    given = signature.strip().encode("utf-8")
    ok = False
    for variant in _url_variants(url):  # no early exit: same work whatever matches
        ok |= hmac.compare_digest(compute_signature(auth_token, variant, params).encode(), given)
    return ok

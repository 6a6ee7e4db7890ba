"""DKIM: outgoing messages signed with the configured key (SIBYL_DKIM_KEY) for their From address's domain, and the
DNS record that publishes its public half."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

# dkimpy: the maintained DKIM implementation (RFC 6376 canonicalisation and signing), not ours to rewrite.
import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_SELECTOR = "sibyl"
MIN_BITS = 1024  # what receivers (and dkimpy's own verifier) accept at least
# RFC 8058 asks for the one-click unsubscribe headers to be signed; dkimpy signs the first by default.
_ALSO_SIGNED = b"list-unsubscribe-post"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SELECTOR = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


def configured_signer(config: Mapping[str, object]) -> DkimSigner | None:
    """The signer SIBYL_DKIM_KEY and SIBYL_DKIM_SELECTOR configure (DkimKeyError when the key cannot be used), or
    None when no key is set."""
    key = config.get("DKIM_KEY")
    return DkimSigner.load(str(key), str(config["DKIM_SELECTOR"])) if key else None


class DkimKeyError(ValueError):
    """The key file cannot be used; the message says which file and why (never its content)."""


class DkimSigningError(ValueError):
    """A message that cannot be signed (its From has no domain, or dkimpy refused it)."""


@dataclass(frozen=True)
class DkimSigner:
    """A private RSA key and its selector; each message is signed for its own From domain (d=)."""

    selector: str
    pem: bytes = field(repr=False)
    public_key: bytes  # DER SubjectPublicKeyInfo, as the DNS record's p= carries it
    bits: int

    @classmethod
    def load(cls, path: str, selector: str = DEFAULT_SELECTOR) -> DkimSigner:
        """The key in the PEM file at `path` (PKCS#1 or PKCS#8, RSA, at least MIN_BITS); DkimKeyError otherwise."""
        if not _SELECTOR.match(selector):
            raise DkimKeyError(
                f"SIBYL_DKIM_SELECTOR={selector!r}: letters, digits and hyphens, such as {DEFAULT_SELECTOR}"
            )
        try:
            pem = Path(path).read_bytes()
        except OSError as error:
            raise DkimKeyError(f"SIBYL_DKIM_KEY={path}: cannot read the file ({error.strerror})") from None
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise DkimKeyError(f"SIBYL_DKIM_KEY={path}: not an unencrypted PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise DkimKeyError(f"SIBYL_DKIM_KEY={path}: an RSA key is needed (openssl genrsa)")
        if key.key_size < MIN_BITS:
            raise DkimKeyError(f"SIBYL_DKIM_KEY={path}: {key.key_size} bits; receivers need at least 1024, use 2048")
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        unencrypted = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        return cls(selector=selector, pem=unencrypted, public_key=public, bits=key.key_size)

    def record_name(self, domain: str) -> str:
        """Where the public key is published for `domain`: SELECTOR._domainkey.DOMAIN."""
        return f"{self.selector}._domainkey.{domain}"

    def record(self) -> str:
        """The TXT record's value: `v=DKIM1; k=rsa; p=…`."""
        return f"v=DKIM1; k=rsa; p={base64.b64encode(self.public_key).decode('ascii')}"

    def sign(self, message: bytes, sender: str) -> bytes:
        """The message with a DKIM-Signature header first, signed for the domain of `sender` (its From)."""
        domain = domain_of(sender)
        if not domain:
            raise DkimSigningError(f"the sender {sender!r} has no domain to sign for")
        try:
            signing = dkim.DKIM(message)
            signing.should_sign.add(_ALSO_SIGNED)
            signature: bytes = signing.sign(self.selector.encode("ascii"), domain.encode("idna"), self.pem)
        except (dkim.DKIMException, UnicodeError) as error:
            raise DkimSigningError(f"cannot DKIM-sign: {error}") from None
        return signature + message


def domain_of(address: str) -> str:
    """The domain of an address or a `Name <address>`, lower-cased; empty when it has none."""
    _, at, domain = parseaddr(address)[1].rpartition("@")
    return domain.lower() if at else ""

"""The bounce address of each email (VERP): the envelope sender `bounces+<id>-<signature>@domain` names the outbox
email, so a bounce sent back to it says which email bounced, whatever the bounce itself quotes."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The token: the outbox id, and the first 10 hex digits of an HMAC of it under the secret key. Signed rather than
# random and stored: nothing to write per email, and the id alone could be guessed, so a forged bounce to
# `bounces+N@` could blacklist someone else's contact; 40 bits of signature make guessing one a trillion tries.
SIGNATURE_DIGITS = 10
_TOKEN = re.compile(rf"\+(?P<id>[0-9]{{1,18}})-(?P<signature>[0-9a-f]{{{SIGNATURE_DIGITS}}})@", re.IGNORECASE)


@dataclass(frozen=True)
class BounceAddresses:
    """Each email's own bounce address under the mailbox `address` (SIBYL_BOUNCE_ADDRESS), signed with `secret`."""

    address: str  # empty when unset: tokens are still read (the secret alone checks them), none are made
    secret: str = field(repr=False)

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> BounceAddresses:
        """The app's: SIBYL_BOUNCE_ADDRESS (or none) and the secret key."""
        return cls(str(config.get("BOUNCE_ADDRESS") or ""), str(config["SECRET_KEY"]))

    def for_email(self, outbox_id: int) -> str:
        """The envelope sender of the outbox email `outbox_id`."""
        local, _, domain = self.address.rpartition("@")
        return f"{local}+{outbox_id}-{self._signature(outbox_id)}@{domain}"

    def outbox_id(self, address: str) -> int | None:
        """The outbox email an address made by `for_email` names, when its signature holds; else None. Any mailbox
        and domain are accepted: the signature is what proves the address was ours (mail systems may rewrite the
        domain's case, or deliver a subdomain's mail to the same box)."""
        found = _TOKEN.search(address)
        if found is None:
            return None
        outbox_id = int(found["id"])
        if not hmac.compare_digest(found["signature"].lower(), self._signature(outbox_id)):
            return None
        return outbox_id

    def _signature(self, outbox_id: int) -> str:
        digest = hmac.new(self.secret.encode(), f"bounce:{outbox_id}".encode(), hashlib.sha256).hexdigest()
        return digest[:SIGNATURE_DIGITS]

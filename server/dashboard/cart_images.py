"""The site page's warning about cart images emails would not show, from the item images of the site's last carts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..commerce.cart_items import cart_lines, in_brevo_names
from ..mail.image_formats import ImageProblem, image_problem
from ..models import Cart

RECENT_CARTS = 20  # the newest carts read: a few rows through the primary key, however many carts the site has
SHOWN_URLS = 5
MAX_SHOWN_URL = 200  # characters of an offending URL shown


@dataclass(frozen=True)
class BadImage:
    url: str
    problem: ImageProblem


def bad_cart_images(session: Session, site_id: int) -> list[BadImage]:
    """A few of the different item images of the site's newest carts that emails would not show, each with why."""
    snapshots = session.scalars(
        select(Cart.snapshot).where(Cart.site_id == site_id).order_by(Cart.id.desc()).limit(RECENT_CARTS)
    )
    found: dict[str, BadImage] = {}
    for snapshot in snapshots:
        for line in cart_lines(snapshot) or []:
            image = in_brevo_names(line).get("image") if isinstance(line, dict) else None
            if not isinstance(image, str) or not image.strip() or image in found:
                continue
            problem = image_problem(image)
            if problem is not None:
                found[image] = BadImage(url=" ".join(image.split())[:MAX_SHOWN_URL], problem=problem)
                if len(found) == SHOWN_URLS:
                    return list(found.values())
    return list(found.values())

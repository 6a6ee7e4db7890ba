"""The three cart events a shop sends, as recipes in Brevo's browser API: the fields are those the cart rules and the
recovery email read (`eventdata.id`; `data.items` with `name`, `price`, `quantity`, `image`, `url`; `data.total`,
`data.currency`, `data.url`). The site page shows them to copy; docs/tracker.md shows the same."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    event: str
    when: str
    code: str


CART_UPDATED = """\
sendinblue.track('cart_updated',
  { email: 'jane@example.com' },  // once the shopper is known
  { id: 'CART_ID', data: {
      items: [{ name: 'Black shoes', price: 90, quantity: 2,
                image: 'https://shop.example/images/black-shoes.png',
                url: 'https://shop.example/products/black-shoes' }],
      total: 180, currency: 'USD',
      url: 'https://shop.example/cart/restore/CART_TOKEN' } });"""

ORDER_COMPLETED = """\
sendinblue.track('order_completed',
  { email: 'jane@example.com' },  // the checkout's address
  { id: 'CART_ID', data: { total: 180, currency: 'USD' } });"""

CART_DELETED = """\
sendinblue.track('cart_deleted', {}, { id: 'CART_ID' });"""

RECIPES = (
    Recipe(
        "cart_updated",
        "After every change to the cart: an item added (from a product page or a list too), an item removed, a "
        "quantity changed. Send it from the code that makes the change, not only from an Update cart button: a "
        "cart filled from product pages and never opened would send nothing. Each call carries the whole cart, "
        "every line (a cart with no items is closed), under the same CART_ID each time; images are PNG, JPEG or "
        "GIF on https. Leave the email out until the shopper is known: the cart then waits for their sign-in.",
        CART_UPDATED,
    ),
    Recipe(
        "order_completed",
        "When the order is placed: it closes the cart, so no email follows. With the checkout's email address, "
        "it closes the cart whichever browser the order was placed in.",
        ORDER_COMPLETED,
    ),
    Recipe(
        "cart_deleted",
        "When the shopper empties the cart or it is thrown away. Without an id it closes every open cart of the "
        "shopper.",
        CART_DELETED,
    ),
)

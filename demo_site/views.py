"""The shop's pages and its small JSON cart API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from demo_site import cart
from demo_site.catalog import CURRENCY, PRODUCTS, get_product
from demo_site.users import current_user, sign_in, sign_out, tracking_properties
from server.redirects import local_path

bp = Blueprint("shop", __name__)


@bp.app_context_processor
def inject_header() -> dict[str, Any]:
    """Values every page's header needs."""
    return {"user": current_user(), "cart_count": cart.count(), "currency": CURRENCY}


@bp.app_template_filter("money")
def money_filter(value: float) -> str:
    """Format an amount as dollars, e.g. ``$12.50``."""
    return f"${float(value):,.2f}"


def _wants_json() -> bool:
    """True for the shop's fetch() calls, False for plain form posts."""
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _cart_reply() -> BaseResponse:
    """The new cart as JSON for fetch(), or a redirect to the cart page for a form post."""
    if _wants_json():
        return jsonify(cart=cart.snapshot(), properties=tracking_properties())
    return redirect(url_for("shop.cart"))


def _parse_quantity(value: Any) -> int | None:
    """A quantity 0..99 from user input, or None when it is not a whole number."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return max(0, min(number, cart.MAX_QUANTITY))


@bp.get("/")
def index() -> str:
    """Home page: every product."""
    return render_template("index.html", products=PRODUCTS)


@bp.get("/products/<slug>")
def product(slug: str) -> str:
    """One product with its Add to cart button."""
    item = get_product(slug)
    if item is None:
        abort(404)
    return render_template("product.html", product=item)


@bp.post("/cart/add/<slug>")
def add_to_cart(slug: str) -> BaseResponse:
    """Add one of a product, then show the cart."""
    if get_product(slug) is None:
        abort(404)
    quantity = _parse_quantity(request.form.get("quantity", "1")) or 1
    cart.add(slug, quantity)
    return _cart_reply()


@bp.get("/cart", endpoint="cart")
def cart_page() -> str:
    """The cart, with the data shop.js needs for tracking."""
    data = {"cart": cart.snapshot(), "properties": tracking_properties()}
    return render_template("cart.html", lines=cart.lines(), data=data, total=data["cart"]["total"])


@bp.get("/cart/restore/<token>")
def restore_cart(token: str) -> BaseResponse | tuple[str, int]:
    """The cart link of the tracked cart (`data.url`), the one the recovery email's button opens: it makes the cart
    this browser's, whichever browser filled it."""
    if not cart.restore(token):
        return render_template("cart_gone.html"), 404
    return redirect(url_for("shop.cart"))


@bp.post("/cart/update")
def update_cart() -> BaseResponse | tuple[Response, int]:
    """Set quantities: JSON ``{"quantities": {slug: n}}`` or form fields ``qty-<slug>``."""
    if request.is_json:
        payload = request.get_json(silent=True)
        raw = payload.get("quantities") if isinstance(payload, dict) else None
        if not isinstance(raw, dict):
            return jsonify(error="quantities must be an object"), 400
    else:
        raw = {k[4:]: v for k, v in request.form.items() if k.startswith("qty-")}
    quantities: dict[str, int] = {}
    for slug, value in raw.items():
        quantity = _parse_quantity(value)
        if quantity is None:
            if _wants_json():
                return jsonify(error=f"quantity for {slug} must be a whole number"), 400
            continue
        quantities[str(slug)] = quantity
    cart.set_quantities(quantities)
    return _cart_reply()


@bp.post("/cart/remove")
def remove_from_cart() -> BaseResponse:
    """Remove one line: JSON ``{"slug": ...}`` or a form field ``slug``."""
    if request.is_json:
        payload = request.get_json(silent=True)
        slug = payload.get("slug") if isinstance(payload, dict) else None
    else:
        slug = request.form.get("slug")
    if isinstance(slug, str):
        cart.remove(slug)
    return _cart_reply()


@bp.post("/checkout")
def checkout() -> BaseResponse | tuple[Response, int]:
    """Place the order; answers the order (JSON) or redirects to the thank-you page."""
    properties = tracking_properties()
    order = cart.checkout()
    if order is None:
        if _wants_json():
            return jsonify(error="the cart is empty"), 400
        return redirect(url_for("shop.cart"))
    if _wants_json():
        return jsonify(order=order, properties=properties, redirect=url_for("shop.thanks"))
    return redirect(url_for("shop.thanks"))


@bp.get("/thanks")
def thanks() -> str:
    """Thank-you page for the last order."""
    return render_template("thanks.html", order=session.get("last_order"))


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> BaseResponse | tuple[str, int]:
    """Sign-in / newsletter form; shop.js calls sendinblue.identify before it is posted."""
    error = None
    next_url = local_path(request.values.get("next")) or url_for("shop.index")
    if request.method == "POST":
        error = sign_in(
            request.form.get("email", ""), request.form.get("firstname", ""), request.form.get("lastname", "")
        )
        if error is None:
            return redirect(next_url)
    page = render_template("signin.html", error=error, form=request.form, next_url=next_url)
    return page, (400 if error else 200)


@bp.post("/signout")
def signout() -> BaseResponse:
    """Sign out; the cart is kept."""
    sign_out()
    return redirect(url_for("shop.index"))

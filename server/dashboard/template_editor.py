"""The Templates tab: a site's email templates listed, each edited (a save is a new version), previewed for a sample
or a contact in a frame that can run nothing, sent as a test, and its versions viewed and restored."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from .. import db
from ..api.schemas import MAX_ID
from ..email_templates.store import (
    NAME,
    Template,
    TemplateRefused,
    check_template,
    current_template,
    save_template,
    shipped,
    template_version,
    templates_of,
    version_list,
)
from ..mail.outbox import OutboxStatus
from ..models import Site, utcnow
from .blueprint import bp
from .scope import current_site, remember, visible_site
from .template_previews import (
    PREVIEW_POLICY,
    TEST_SENDS_PER_HOUR,
    Preview,
    PreviewRefused,
    Recipient,
    SendLimitReached,
    from_of,
    recipient_for,
    render_for,
    send_test,
    sends_left_this_hour,
)

NO_TEMPLATE = "There is no such template."
PARTS = ("subject", "preheader", "html", "text")
UNSAVED = -1  # the version of a template as typed in the form, not saved yet
STARTER_HTML = """<p>Hello {{ contact.FIRSTNAME | default : "there" }},</p>
<p></p>
<p><a href="{{ unsubscribe }}">Unsubscribe</a></p>
"""


@bp.get("/templates")
def templates() -> str:
    wanted = request.args.get("site", type=int)
    site = visible_site(wanted) if wanted is not None else current_site()
    if site is not None:
        remember(site)
    return _list_page(site, "", None)


@bp.post("/templates")
def new_template() -> Response | tuple[str, int]:
    """Open the editor of a new template: nothing is saved until its first Save."""
    site = visible_site(request.form.get("site", type=int))
    name = request.form.get("name", "").strip()
    if not NAME.match(name):
        return _list_page(site, name, "Use lower-case letters, digits, - and _ (at most 100), such as cart-1."), 400
    if current_template(db.session(), site.id, name) is not None:
        return _list_page(site, name, f"This site already has a template named “{name}”: open it in the list."), 400
    return redirect(url_for("dashboard.template", name=name, site=site.id))


@bp.get("/templates/<name>")
def template(name: str) -> Response | tuple[str, int]:
    site = _site()
    _check_name(name)
    current = current_template(db.session(), site.id, name)
    form = _form_of(current) if current else {"subject": "", "preheader": "", "html": STARTER_HTML, "text": ""}
    return _edit_page(site, name, current, form, {})


@bp.post("/templates/<name>")
def save_form(name: str) -> Response | tuple[str, int]:
    """Save what the form holds as the template's next version; a refused template saves nothing."""
    site = _site()
    _check_name(name)
    form = _posted()
    session = db.session()
    try:
        saved = save_template(session, site.id, name, **form, now=utcnow())
        session.commit()
    except TemplateRefused as error:
        session.rollback()
        return _edit_page(site, name, current_template(session, site.id, name), form, _errors_of(str(error)), 400)
    except IntegrityError:  # its first version, saved by another request at the same moment
        session.rollback()
        errors = {"html": "Saved elsewhere at the same moment: save again to make yours the next version."}
        return _edit_page(site, name, current_template(session, site.id, name), form, errors, 400)
    flash(f"Saved “{name}”, version {saved.version}: new emails are written from it.", "success")
    return redirect(url_for("dashboard.template", name=name, site=site.id, contact=_contact_arg()))


@bp.get("/templates/<name>/versions/<int:version>")
def template_version_page(name: str, version: int) -> Response | tuple[str, int]:
    site = _site()
    return _version_page(site, _version(site, name, version), None)


@bp.post("/templates/<name>/versions/<int:version>/restore")
def restore(name: str, version: int) -> Response | tuple[str, int]:
    """Save an earlier version (or the shipped default) again, as the newest."""
    site = _site()
    old = _version(site, name, version)
    session = db.session()
    try:
        saved = save_template(session, site.id, name, **_form_of(old), now=utcnow())
        session.commit()
    except (TemplateRefused, IntegrityError) as error:
        session.rollback()
        said = str(error) if isinstance(error, TemplateRefused) else "Saved elsewhere at the same moment: try again."
        return _version_page(site, old, said, 400)
    flash(f"Restored {_version_label(old)} of “{name}” as version {saved.version}.", "success")
    return redirect(url_for("dashboard.template", name=name, site=site.id))


@bp.get("/templates/<name>/preview")
def preview_saved(name: str) -> Response:
    """A saved version (`version`; the current one by default) rendered for the sample or `contact`."""
    site = _site()
    _check_name(name)
    found = _saved(site, name, request.args.get("version", type=int))
    if found is None:
        return _sheet(site, None, None, NO_TEMPLATE, 404)
    return _rendered_sheet(site, found, request.args.get("contact", ""))


@bp.post("/templates/<name>/preview")
def preview_form(name: str) -> Response:
    """What the edit form holds, unsaved, rendered for the sample or `contact`: checked as a save would be."""
    site = _site()
    _check_name(name)
    form = _posted()
    try:
        check_template(name, **form)
    except TemplateRefused as error:
        return _sheet(site, None, None, f"Not saved as it is: {error}", 400)
    draft = Template(name, UNSAVED, form["subject"], form["preheader"], form["html"], form["text"])
    return _rendered_sheet(site, draft, request.form.get("contact", ""))


@bp.post("/templates/<name>/test")
def send_test_email(name: str) -> Response | tuple[str, int]:
    """Write the current version, rendered for the sample or `contact`, to the outbox as a test to `address`."""
    site = _site()
    _check_name(name)
    session = db.session()
    current = current_template(session, site.id, name)
    if current is None:
        abort(404, NO_TEMPLATE)
    address = request.form.get("address", "").strip()
    try:
        written = send_test(session, site, current, _recipient(site), address, utcnow())
        session.commit()
    except PreviewRefused as error:
        session.rollback()
        errors = _errors_of(str(error), default="address")
        page = _edit_page(site, name, current, _form_of(current), errors, 400, address=address)
        return (page[0], 429) if isinstance(error, SendLimitReached) else page
    held = written["status"] == OutboxStatus.HELD
    then = "held there: no SMTP server is set" if held else "it goes out with the next delivery"
    to = written["recipient"]
    flash(f"Test email of “{name}”, {_version_label(current)}, to {to} written to the outbox: {then}.", "success")
    return redirect(url_for("dashboard.template", name=name, site=site.id, contact=_contact_arg()))


def _site() -> Site:
    """The site the request names (`site`; 404 unless the user sees it), else the current one."""
    wanted = request.values.get("site", type=int)
    site = visible_site(wanted) if wanted is not None else current_site()
    if site is None:
        abort(404, "There is no such site.")
    remember(site)
    return site


def _check_name(name: str) -> None:
    if not NAME.match(name):
        abort(404, NO_TEMPLATE)


def _saved(site: Site, name: str, version: int | None) -> Template | None:
    """The template's `version` (None: the current one), or None when there is none (or can be none)."""
    session = db.session()
    if version is None:
        return current_template(session, site.id, name)
    return template_version(session, site.id, name, version) if 0 <= version <= MAX_ID else None


def _version(site: Site, name: str, version: int) -> Template:
    _check_name(name)
    found = _saved(site, name, version)
    if found is None:
        abort(404, "There is no such version of this template.")
    return found


def _posted() -> dict[str, str]:
    """The template's parts as the form sent them, with the browser's line breaks made plain newlines."""
    return {part: request.form.get(part, "").replace("\r\n", "\n") for part in PARTS}


def _form_of(template: Template) -> dict[str, str]:
    return {part: getattr(template, part) for part in PARTS}


def _errors_of(message: str, default: str = "html") -> dict[str, str]:
    """A refusal (`html: line 3: unknown tag 'load'`) shown beside the field it names."""
    field = message.partition(":")[0]
    return {field if field in (*PARTS, "contact", "address") else default: message}


def _contact_arg() -> str | None:
    return request.values.get("contact", "").strip()[:254] or None


def _recipient(site: Site) -> Recipient:
    return recipient_for(db.session(), site, _contact_arg() or "")


def _version_label(template: Template) -> str:
    return "the shipped default" if template.shipped else f"version {template.version}"


def _rendered_sheet(site: Site, template: Template, contact: str) -> Response:
    try:
        recipient = recipient_for(db.session(), site, contact)
        return _sheet(site, render_for(site, template, recipient), recipient, None, 200)
    except PreviewRefused as error:
        return _sheet(site, None, None, str(error), 400)


def _sheet(
    site: Site, rendered: Preview | None, recipient: Recipient | None, error: str | None, status: int
) -> Response:
    """The preview's document, for the frame of the editor or a version's page: nothing in it can run."""
    page = render_template(
        "dashboard/template_preview.html", preview=rendered, recipient=recipient, error=error, sender=from_of(site)
    )
    response = make_response(page, status)
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _list_page(site: Site | None, name: str, error: str | None) -> str:
    return render_template(
        "dashboard/templates.html",
        site=site,
        listed=templates_of(db.session(), site.id) if site is not None else [],
        name=name,
        error=error,
    )


def _edit_page(
    site: Site,
    name: str,
    current: Template | None,
    form: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
    address: str = "",
) -> tuple[str, int]:
    session = db.session()
    contact = _contact_arg()
    if contact and "contact" not in errors:
        try:
            recipient_for(session, site, contact)
        except PreviewRefused as error:
            errors, status = {**errors, "contact": str(error)}, max(status, 400)
    page = render_template(
        "dashboard/template.html",
        site=site,
        name=name,
        current=current,
        form=form,
        errors=errors,
        contact=contact or "",
        address=address,
        versions=version_list(session, site.id, name),
        default=shipped(name),
        sends_left=sends_left_this_hour(session, site.id, utcnow()),
        sends_per_hour=TEST_SENDS_PER_HOUR,
    )
    return page, status


def _version_page(site: Site, shown: Template, error: str | None, status: int = 200) -> tuple[str, int]:
    current = current_template(db.session(), site.id, shown.name)
    page = render_template(
        "dashboard/template_version.html",
        site=site,
        shown=shown,
        label=_version_label(shown),
        is_current=current is not None and current.version == shown.version,
        contact=_contact_arg() or "",
        error=error,
    )
    return page, status

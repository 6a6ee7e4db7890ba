"""`flask --app server contacts import SITE FILE`: a Brevo contacts export read into a site's contacts, through Flask's
CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from server import db
from server.contacts import imports
from server.contacts.attributes import AttributeType, create_attribute, find_attribute
from server.models import Contact, Site

from .support.cli import cli
from .support.sites import new_site

BREVO_EXPORT = (
    "\ufeffEMAIL;firstname;LASTNAME;SMS;CITY;emailBlacklisted;smsBlacklisted;ADDED_TIME\n"
    "ana@example.com;Ana;Lima;+33612345678;Paris;false;false;2024-01-02 10:00:00\n"
    "not an address;X;Y;;;false;false;\n"
    '"Bo@Example.com";Bo;"Smith; Jr";;Lyon;true;true;2024-02-03 11:00:00\n'
)


def _file(tmp_path: Path, text: str | bytes, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _contacts(app: Flask, site: Site) -> dict[str, Contact]:
    with db.new_session(app) as session:
        return {c.email or "": c for c in session.scalars(select(Contact).where(Contact.site_id == site.id))}


def test_a_brevo_export_creates_contacts_and_reports_what_it_left_out(app: Flask, tmp_path: Path) -> None:
    site = new_site(app, "import")
    result = cli(app, "contacts", "import", site.name, str(_file(tmp_path, BREVO_EXPORT)))
    assert result.exit_code == 0, result.output
    assert "2 contacts created, 0 updated, 0 unchanged, 1 skipped" in result.stdout
    assert "line 3: 'not an address' is not a valid email address" in result.stderr
    assert "left out" in result.stderr and "CITY, ADDED_TIME" in result.stderr
    contacts = _contacts(app, site)
    assert set(contacts) == {"ana@example.com", "bo@example.com"}
    ana, bo = contacts["ana@example.com"], contacts["bo@example.com"]
    assert ana.attributes == {"FIRSTNAME": "Ana", "LASTNAME": "Lima", "SMS": "+33612345678"}
    assert bo.attributes == {"FIRSTNAME": "Bo", "LASTNAME": "Smith; Jr"}
    assert (ana.email_blacklisted, ana.sms_blacklisted) == (False, False)
    assert (bo.email_blacklisted, bo.sms_blacklisted) == (True, True)


def test_importing_again_updates_the_same_contacts(app: Flask, tmp_path: Path) -> None:
    site = new_site(app, "import")
    path = _file(tmp_path, BREVO_EXPORT)
    assert cli(app, "contacts", "import", site.name, str(path)).exit_code == 0
    again = cli(app, "contacts", "import", site.name, str(path))
    assert "0 contacts created, 0 updated, 2 unchanged, 1 skipped" in again.stdout
    changed = _file(tmp_path, BREVO_EXPORT.replace(";Ana;", ";Anna;"), "changed.csv")
    assert (
        "0 contacts created, 1 updated, 1 unchanged" in cli(app, "contacts", "import", site.name, str(changed)).stdout
    )
    with db.new_session(app) as session:
        count = session.scalar(select(func.count()).select_from(Contact).where(Contact.site_id == site.id))
    assert count == 2
    assert _contacts(app, site)["ana@example.com"].attributes["FIRSTNAME"] == "Anna"


def test_create_attributes_creates_a_text_attribute_per_unknown_column(app: Flask, tmp_path: Path) -> None:
    site = new_site(app, "import")
    result = cli(app, "contacts", "import", site.name, str(_file(tmp_path, BREVO_EXPORT)), "--create-attributes")
    assert result.exit_code == 0, result.output
    assert "Created attribute CITY (text)" in result.stdout and "left out" not in result.stderr
    with db.new_session(app) as session:
        city = find_attribute(session, site.id, "CITY")
        assert city is not None and city.type == AttributeType.TEXT
    assert _contacts(app, site)["bo@example.com"].attributes["CITY"] == "Lyon"


def test_values_are_read_as_their_attributes_types(app: Flask, tmp_path: Path) -> None:
    site = new_site(app, "import")
    with db.new_session(app) as session:
        for name, kind in (("POINTS", AttributeType.FLOAT), ("BIRTHDAY", AttributeType.DATE)):
            create_attribute(session, site.id, name, kind)
        create_attribute(session, site.id, "VIP", AttributeType.BOOLEAN)
    text = (
        "email,points,birthday,vip\n"
        "cy@example.com,12.5,1990-04-12,true\n"
        "di@example.com,lots,12/04/1990,maybe\n"
        "\n"
        "ed@example.com,,,\n"
    )
    result = cli(app, "contacts", "import", site.name, str(_file(tmp_path, text)))
    assert result.exit_code == 0, result.output
    assert "3 contacts created" in result.stdout
    assert "line 3: points: could not convert string to float: 'lots'; left out" in result.stderr
    assert "line 3: birthday: '12/04/1990' is not a date written YYYY-MM-DD; left out" in result.stderr
    assert "line 3: vip: 'maybe' is neither true nor false; left out" in result.stderr
    contacts = _contacts(app, site)
    assert contacts["cy@example.com"].attributes == {"POINTS": 12.5, "BIRTHDAY": "1990-04-12", "VIP": True}
    assert contacts["di@example.com"].attributes == {}
    assert contacts["ed@example.com"].attributes == {}


def test_an_import_never_lifts_an_unsubscribe(app: Flask, tmp_path: Path) -> None:
    site = new_site(app, "import")
    cli(app, "contacts", "import", site.name, str(_file(tmp_path, BREVO_EXPORT)))
    assert _contacts(app, site)["bo@example.com"].email_blacklisted
    subscribed = _file(tmp_path, BREVO_EXPORT.replace(";true;true;", ";false;false;"), "subscribed.csv")
    assert cli(app, "contacts", "import", site.name, str(subscribed)).exit_code == 0
    assert _contacts(app, site)["bo@example.com"].email_blacklisted


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("FIRSTNAME;LASTNAME\nAna;Lima\n", "no EMAIL column"),
        ("EMAIL;Email\nana@example.com;ana@example.com\n", "columns named twice"),
        (b"EMAIL;FIRSTNAME\nana@example.com;Ana\nbo@example.com;B\xe9atrice\n", "line 3: not UTF-8"),
        ('EMAIL,FIRSTNAME\nana@example.com,Ana\nbo@example.com,"Bo\n', "not CSV"),
    ],
)
def test_a_file_that_cannot_be_read_writes_nothing(app: Flask, tmp_path: Path, content: str | bytes, said: str) -> None:
    site = new_site(app, "import")
    result = cli(app, "contacts", "import", site.name, str(_file(tmp_path, content)))
    assert result.exit_code != 0 and said in result.stderr, result.output
    assert _contacts(app, site) == {}
    assert cli(app, "contacts", "import", site.name, str(tmp_path / "missing.csv")).exit_code != 0
    assert cli(app, "contacts", "import", "no such site", str(_file(tmp_path, BREVO_EXPORT))).exit_code != 0


def test_large_files_are_written_in_batches(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "BATCH", 3)
    site = new_site(app, "import")
    text = "EMAIL\tFIRSTNAME\n" + "".join(f"p{n}@example.com\tP{n}\n" for n in range(10))
    result = cli(app, "contacts", "import", site.name, str(_file(tmp_path, text)))
    assert "10 rows: 10 contacts created" in result.stdout, result.output
    assert _contacts(app, site)["p9@example.com"].attributes == {"FIRSTNAME": "P9"}

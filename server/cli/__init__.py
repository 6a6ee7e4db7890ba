"""The `flask --app server` commands: sites, workflows, templates, the outbox, contacts, dashboard users, the
schema, the doctor and bounces."""

from __future__ import annotations

from flask import Flask

from .bounces import bounces_cli
from .contacts import attributes_cli, contacts_cli, events_cli
from .doctor import doctor_command
from .schema import db_cli
from .sites import sites_cli
from .templates import templates_cli
from .users import users_cli
from .workflows import outbox_cli, worker_command, workflows_cli


def init_app(app: Flask) -> None:
    commands = (
        sites_cli,
        db_cli,
        workflows_cli,
        outbox_cli,
        events_cli,
        users_cli,
        contacts_cli,
        attributes_cli,
        templates_cli,
        worker_command,
        doctor_command,
        bounces_cli,
    )
    for command in commands:
        app.cli.add_command(command)

"""The models and the migrations agree: a model change without its migration
(or a refactor that meant to keep the columns, like ``runs.models.RunBase``)
shows here."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration(capsys):
    try:
        call_command("makemigrations", "--check", "--dry-run", verbosity=1)
    except SystemExit:
        pytest.fail(f"makemigrations would write a migration:\n{capsys.readouterr().out}")

"""The migration to digests keeps existing tokens working: DRF's plaintext keys are
hashed (with their creation time, so they expire when they would have) and the
plaintext table is dropped."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from rest_framework.test import APIClient

from reflectlab.core.models import ApiToken
from reflectlab.core.tokens import token_digest

migration = importlib.import_module("reflectlab.core.migrations.0002_api_tokens_stored_as_digests")
pytestmark = pytest.mark.django_db(transaction=True)  # DDL: no wrapping transaction
KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF's shape: 40 hex characters


def legacy_table_with(user, created) -> None:
    qn = connection.ops.quote_name
    datetime_type = connection.data_types["DateTimeField"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {qn('authtoken_token')} ({qn('key')} varchar(40) NOT NULL PRIMARY KEY, "
            f"{qn('created')} {datetime_type} NOT NULL, {qn('user_id')} integer NOT NULL)"
        )
        cursor.execute(
            f"INSERT INTO {qn('authtoken_token')} VALUES (%s, %s, %s)",  # noqa: S608
            [KEY, connection.ops.adapt_datetimefield_value(created), user.pk],
        )
    MigrationRecorder(connection).record_applied("authtoken", "0004_alter_tokenproxy_options")


def projects_status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/projects/").status_code


def test_legacy_keys_are_hashed_keep_working_and_the_plaintext_table_goes(user, settings):
    settings.REFLECTLAB_TOKEN_TTL_DAYS = 30
    created = (timezone.now() - timedelta(days=29)).replace(microsecond=0)
    legacy_table_with(user, created)
    assert projects_status(KEY) == 401  # the app reads only digests

    with connection.schema_editor() as schema_editor:
        migration.hash_legacy_tokens(apps, schema_editor)

    token = ApiToken.objects.get(user=user)
    assert token.digest == token_digest(KEY) and token.created == created
    assert token.prefix == KEY[:6]
    assert "authtoken_token" not in connection.introspection.table_names()
    assert not MigrationRecorder(connection).migration_qs.filter(app="authtoken").exists()
    assert projects_status(KEY) == 200
    with time_machine.travel(created + timedelta(days=30, seconds=1), tick=False):
        assert projects_status(KEY) == 401  # expires when the old token would have


def test_without_a_legacy_table_the_migration_does_nothing(user):
    with connection.schema_editor() as schema_editor:
        migration.hash_legacy_tokens(apps, schema_editor)
    assert not ApiToken.objects.exists()

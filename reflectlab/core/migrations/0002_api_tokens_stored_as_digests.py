"""API tokens stored as SHA-256 digests (``core.ApiToken``) instead of DRF's plaintext
``authtoken_token``.

Existing tokens keep working: each legacy key is hashed into an ``ApiToken``
with its creation time (so it expires when it would have), then the legacy
table is dropped and DRF ``authtoken``'s migration records are removed (the
app is no longer installed; re-adding it would create its table afresh). The
keys cannot be recovered, so this migration does not reverse the data.
"""

import datetime
import hashlib

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.migrations.recorder import MigrationRecorder
from django.utils.dateparse import parse_datetime

LEGACY_TABLE = "authtoken_token"


def _aware(value):
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return django.utils.timezone.now()
    if django.utils.timezone.is_naive(value):
        value = value.replace(tzinfo=datetime.UTC)
    return value


def hash_legacy_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn('key')}, {qn('user_id')}, {qn('created')} FROM {qn(LEGACY_TABLE)}"
        )
        rows = cursor.fetchall()
    ApiToken = apps.get_model("core", "ApiToken")
    ApiToken.objects.using(connection.alias).bulk_create(
        [
            ApiToken(
                digest=hashlib.sha256(key.encode()).hexdigest(),
                user_id=user_id,
                prefix=key[:6],
                created=_aware(created),
            )
            for key, user_id, created in rows
        ],
        batch_size=1000,
    )
    schema_editor.execute(f"DROP TABLE {qn(LEGACY_TABLE)}")
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_signin_counter'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ApiToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('digest', models.CharField(help_text='SHA-256 of the key, hex.', max_length=64, unique=True)),
                ('prefix', models.CharField(blank=True, max_length=8)),
                ('created', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_used', models.DateTimeField(blank=True, null=True)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created', '-id'],
                'indexes': [models.Index(fields=['user', 'created'], name='core_apitok_user_id_04138d_idx')],
            },
        ),
        migrations.RunPython(hash_legacy_tokens, migrations.RunPython.noop, elidable=True),
    ]

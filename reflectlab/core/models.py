from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class SignInCounter(models.Model):
    """Sign-in attempts of one username or one client address in one time window.

    Kept in the database so the limit holds across every web process and
    worker; see ``reflectlab.core.throttle``. ``ident`` is a hash, so the table
    never holds a password typed into the username box.
    """

    class Scope(models.TextChoices):
        USER = "user", "Username"
        ADDRESS = "ip", "Client address"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    ident = models.CharField(max_length=64)
    window = models.BigIntegerField(help_text="Unix time // window length.")
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "ident", "window"], name="signin_counter_unique"
            )
        ]
        indexes = [models.Index(fields=["window"])]

    def __str__(self) -> str:
        return f"{self.scope} {self.ident[:8]}… window {self.window}: {self.attempts}"


class ApiToken(models.Model):
    """An API token, kept as the SHA-256 digest of its key (``reflectlab.core.tokens``).

    The key itself is shown once, when it is issued, and stored nowhere: a copy
    of this table (a backup, a replica, a leaked query) holds no credential.
    ``prefix`` (the key's first characters) only tells a user's tokens apart.
    """

    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key, hex.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=8, blank=True)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "created"])]

    def __str__(self) -> str:
        return f"API token {self.prefix}… of {self.user}"

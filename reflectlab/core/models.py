from __future__ import annotations

from django.db import models


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

"""Loaded with ``-p`` before Django reads its settings: safe test defaults."""

import os

os.environ.setdefault("SECRET_KEY", "reflectlab-test-only-secret-key-0123456789")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

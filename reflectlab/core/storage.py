"""The two named storages, ``uploads`` and ``exports`` (settings ``STORAGES``).

Local folders by default; one S3-compatible bucket with ``REFLECTLAB_STORAGE=s3``
so that a web process and workers on different machines share the files
(README "Scale-out"). Code reads and writes through these helpers only, never
through a local path, so both work the same.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.signals import setting_changed
from django.utils.functional import LazyObject, empty
from storages.utils import clean_name

CHUNK = 1 << 20


class ExportsFileSystemStorage(FileSystemStorage):
    """A folder storage whose root is ``REFLECTLAB_EXPORTS_DIR``, read when used (tests move it)."""

    @property
    def base_location(self) -> str:
        return self._value_or_setting(self._location, settings.REFLECTLAB_EXPORTS_DIR)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)


class NamedStorage(LazyObject):
    """``storages[alias]``, looked up on first use and again after ``STORAGES`` changes.

    A ``FileField(storage=…)`` keeps the object it was given for the life of the
    process; this proxy lets that object follow the settings.
    """

    def __init__(self, alias: str):
        super().__init__()
        self.__dict__["alias"] = alias

    def _setup(self) -> None:
        self._wrapped = storages[self.__dict__["alias"]]


_uploads = NamedStorage("uploads")
_exports = NamedStorage("exports")


def uploads_storage() -> Storage:
    """Where import files go (``ImportJob.file``)."""
    return _uploads  # type: ignore[return-value]


def exports_storage() -> Storage:
    return _exports  # type: ignore[return-value]


def _reset(*, setting: str, **kwargs) -> None:
    if setting == "STORAGES":
        _uploads._wrapped = empty
        _exports._wrapped = empty


setting_changed.connect(_reset, dispatch_uid="reflectlab.core.storage.reset")


def is_s3(storage: Storage) -> bool:
    return hasattr(storage, "bucket_name")


class _LocalFile(File):
    """A finished local file; ``FileSystemStorage`` moves it into place instead of copying."""

    def temporary_file_path(self) -> str:
        return self.name


def storage_put(*, storage: Storage, key: str, path: Path) -> str:
    """Put the local file ``path`` at ``key`` (replacing any object there); return the key.

    A folder storage renames the file (same filesystem) and S3 uploads it in
    multipart chunks: memory stays flat whatever the size.
    """
    storage.delete(key)  # a retry after a crash finds its own half-done object
    with path.open("rb") as fh:
        name = storage.save(key, _LocalFile(fh, name=str(path)))
    if name != key:  # pragma: no cover - storages here overwrite, never rename
        storage.delete(name)
        raise RuntimeError(f"Storage saved {key!r} as {name!r}.")
    return name


def storage_chunks(*, storage: Storage, key: str) -> Iterator[bytes]:
    """The object's bytes in 1 MiB chunks, streamed (S3: straight from the response body)."""
    if is_s3(storage):
        # S3File would download the whole object before the first byte is sent.
        obj = storage.bucket.Object(storage._normalize_name(clean_name(key)))
        body = obj.get()["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()
        return
    with storage.open(key, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def storage_local_path(*, storage: Storage, key: str) -> Path | None:
    """A local path for ``key`` when the storage is a folder, else None."""
    try:
        return Path(storage.path(key))
    except NotImplementedError:
        return None

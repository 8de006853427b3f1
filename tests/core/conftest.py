"""An S3-compatible server for tests: moto in server mode on 127.0.0.1 (fixtures ``s3``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import boto3
import pytest

from reflectlab.settings import storages_from

KEY_ID = "reflectlab-test"
SECRET = "reflectlab-test-secret"
REGION = "us-east-1"


@dataclass
class S3Server:
    endpoint: str
    bucket: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name=REGION,
        )

    def keys(self, prefix: str = "") -> list[str]:
        found = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in found.get("Contents", []))

    def env(self) -> dict[str, str]:
        """What a separate process needs to use this bucket (README "Scale-out")."""
        return {
            "REFLECTLAB_STORAGE": "s3",
            "REFLECTLAB_S3_BUCKET": self.bucket,
            "REFLECTLAB_S3_ENDPOINT_URL": self.endpoint,
            "REFLECTLAB_S3_REGION": REGION,
            "REFLECTLAB_S3_ACCESS_KEY_ID": KEY_ID,
            "REFLECTLAB_S3_SECRET_ACCESS_KEY": SECRET,
            "REFLECTLAB_S3_ADDRESSING_STYLE": "path",
        }

    def storages(self) -> dict:
        """``STORAGES`` exactly as settings.py builds it from ``env()``."""
        return storages_from(self.env())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """One moto server for the session, stopped at its end."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto server did not start; see {log.name}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def s3(moto_endpoint):
    """A fresh bucket on the moto server."""
    server = S3Server(endpoint=moto_endpoint, bucket=f"rl-{uuid.uuid4().hex[:12]}")
    server.client().create_bucket(Bucket=server.bucket)
    return server

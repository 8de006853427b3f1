"""Model configs: writes and the bounded "test connection"."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from reflectlab.projects.models import Project
from reflectlab.providers.base import ProviderError
from reflectlab.providers.models import ModelConfig
from reflectlab.providers.openai_http import OpenAIHttpProvider
from reflectlab.providers.registry import api_key_for
from reflectlab.runs import conf


@transaction.atomic
def model_config_create(*, project: Project, data: dict[str, Any]) -> ModelConfig:
    config = ModelConfig(project=project, **data)
    config.full_clean()
    config.save()
    return config


@transaction.atomic
def model_config_update(*, config: ModelConfig, data: dict[str, Any]) -> ModelConfig:
    for name, value in data.items():
        setattr(config, name, value)
    config.full_clean()
    config.save()
    return config


@dataclass
class ConnectionCheck:
    ok: bool
    message: str
    models: list[str] = field(default_factory=list)


def model_config_test(*, config: ModelConfig, timeout: float | None = None) -> ConnectionCheck:
    """Check that the endpoint answers, without waiting on a model.

    OpenAI-compatible: ``GET {base_url}/models`` with a short timeout
    (``REFLECTLAB_TEST_CONNECTION_TIMEOUT``, 3 s) — a listing, not a
    generation, so the web process is never held by a slow model. Local
    models: the directory and its ``config.json`` exist (loading a model is the
    workers' job). The key is read from the environment here and never shown.
    """
    timeout = timeout or conf.get("REFLECTLAB_TEST_CONNECTION_TIMEOUT")
    if config.provider == ModelConfig.Provider.HF_LOCAL:
        path = Path(config.model)
        if not (path / "config.json").is_file():
            return ConnectionCheck(False, f"No model directory with a config.json at {path}.")
        return ConnectionCheck(True, f"Found a model directory at {path}.")
    try:
        api_key = api_key_for(config)  # refuses a variable outside the allowlist
    except ProviderError as exc:
        return ConnectionCheck(False, str(exc))
    if config.api_key_env and not api_key:
        note = f" ({config.api_key_env} is not set in the web process; workers may still have it.)"
    else:
        note = ""
    provider = OpenAIHttpProvider(
        base_url=config.base_url, api_key=api_key, timeout=timeout, max_connections=1
    )
    try:
        models = provider.list_models(timeout=timeout)
    except ProviderError as exc:
        return ConnectionCheck(False, f"{exc}{note}")
    finally:
        provider.close()
    if config.model in models:
        return ConnectionCheck(True, f"Connected; {config.model} is served.{note}", models)
    listed = ", ".join(models[:10]) or "none"
    return ConnectionCheck(
        False, f"Connected, but {config.model} is not among the served models ({listed}).", models
    )

"""From a model config to the provider that serves it: the one place that knows every kind.

Adding a provider kind is one module implementing ``base.Provider`` plus one
``ProviderKind`` row here (and the choice on ``ModelConfig.Provider``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reflectlab.providers import outbound
from reflectlab.providers.base import PermanentProviderError, Provider, Sampling
from reflectlab.providers.hf_local import HFLocalProvider
from reflectlab.providers.models import ModelConfig
from reflectlab.providers.openai_http import OpenAIHttpProvider


def api_key_for(config: ModelConfig) -> str | None:
    """Read the key from the environment variable the config names.

    Only variables the operator allows (``outbound.key_env_allowed``) are read,
    whenever the config was saved: any other name is a PermanentProviderError.
    The key never leaves this process: it is not stored, logged or returned.
    """
    try:
        return outbound.api_key_read(config.api_key_env)
    except outbound.OutboundRefused as exc:
        raise PermanentProviderError(str(exc)) from None


def sampling_for(config: ModelConfig) -> Sampling:
    return Sampling(
        model=config.model,
        temperature=config.temperature,
        top_p=config.top_p,
        max_tokens=config.max_tokens,
        seed=config.seed,
        logprobs=config.logprobs,
        top_logprobs=config.top_logprobs,
        stream=config.stream,
        reasoning_api=config.reasoning_api,
        extra_body=dict(config.extra_body or {}),
    )


@dataclass(frozen=True)
class ProviderKind:
    """One provider kind: its class, the class's keyword arguments for a config, and
    the endpoint its concurrency limit counts against."""

    provider: type
    arguments: Callable[[ModelConfig], dict[str, Any]]
    endpoint: Callable[[ModelConfig], str]


def _openai_arguments(config: ModelConfig) -> dict[str, Any]:
    return {
        "base_url": config.base_url,
        "api_key": api_key_for(config),
        "timeout": config.timeout_seconds,
        "max_connections": max(1, config.max_concurrency),
    }


PROVIDERS: dict[str, ProviderKind] = {
    ModelConfig.Provider.OPENAI: ProviderKind(
        provider=OpenAIHttpProvider,
        arguments=_openai_arguments,
        endpoint=lambda config: config.base_url.rstrip("/").lower(),
    ),
    # torch/transformers are imported on first use, so this kind costs nothing
    # on a worker without them (the call fails with an install hint instead).
    ModelConfig.Provider.HF_LOCAL: ProviderKind(
        provider=HFLocalProvider,
        arguments=lambda config: {"model_path": config.model},
        endpoint=lambda config: f"hf_local:{config.model}",
    ),
}


def _kind(config: ModelConfig) -> ProviderKind:
    try:
        return PROVIDERS[config.provider]
    except KeyError:
        raise PermanentProviderError(f"Unknown provider kind {config.provider!r}.") from None


def provider_for(config: ModelConfig) -> Provider:
    """Build the provider a config asks for."""
    kind = _kind(config)
    return kind.provider(**kind.arguments(config))


def endpoint_key(config: ModelConfig) -> str:
    """What the per-endpoint concurrency limit counts against (an unknown kind still
    gets a key of its own: ``provider_for`` reports it)."""
    kind = PROVIDERS.get(config.provider)
    key = kind.endpoint(config) if kind else f"{config.provider}:{config.model}"
    return key[:300]

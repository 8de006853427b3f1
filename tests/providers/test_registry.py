"""The registry builds the provider a config's kind names; base.py stays the interface."""

from __future__ import annotations

import pytest

from reflectlab.providers.base import PermanentProviderError, Provider
from reflectlab.providers.hf_local import HFLocalProvider
from reflectlab.providers.models import ModelConfig
from reflectlab.providers.openai_http import OpenAIHttpProvider
from reflectlab.providers.registry import PROVIDERS, endpoint_key, provider_for


def config(**kw):
    base = {"provider": "openai", "base_url": "http://Example.test/v1/", "model": "m"}
    return ModelConfig(**{**base, **kw})


def test_every_provider_choice_has_a_registered_kind():
    assert set(PROVIDERS) == set(ModelConfig.Provider.values)


def test_openai_kind_builds_the_http_provider_with_the_configs_key(monkeypatch):
    monkeypatch.setenv("REFLECTLAB_KEY_RL_TEST", "sk-test")
    provider = provider_for(config(api_key_env="REFLECTLAB_KEY_RL_TEST", max_concurrency=3))
    try:
        assert isinstance(provider, OpenAIHttpProvider)
        assert isinstance(provider, Provider)
        assert provider.base_url == "http://Example.test/v1"
    finally:
        provider.close()


def test_hf_local_kind_builds_the_local_provider_without_loading_a_model():
    provider = provider_for(config(provider="hf_local", model="/models/tiny"))
    assert isinstance(provider, HFLocalProvider)
    assert provider.model_path == "/models/tiny"


def test_an_unknown_kind_is_a_permanent_error_that_names_it():
    with pytest.raises(PermanentProviderError, match="'nope'"):
        provider_for(config(provider="nope"))
    assert endpoint_key(config(provider="nope")) == "nope:m"


def test_endpoint_keys_count_against_the_server_or_the_local_model():
    assert endpoint_key(config()) == "http://example.test/v1"
    assert endpoint_key(config(provider="hf_local", model="/m")) == "hf_local:/m"

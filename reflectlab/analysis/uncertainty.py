"""Per-token entropy and the SRGen adaptive uncertainty flag (DESIGN §4).

SRGen flags token t when Hₜ > max(mean(H of the previous N) + K·max(std, sigma_min), tau_min),
defaults N=20, K=2, sigma_min=0.5, tau_min=1.8 (nats).

Entropy comes from the top-k log-probabilities the provider returned. The mass
outside the top k is counted as one extra outcome, which gives a lower bound of
the full-vocabulary entropy — the best the data allows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Uncertainty:
    entropies: tuple[float, ...]
    flagged: tuple[int, ...]  # token indices with the SRGen flag set

    @property
    def mean_entropy(self) -> float | None:
        return sum(self.entropies) / len(self.entropies) if self.entropies else None


def _top_logprobs(entry: Any) -> Iterable[float]:
    """Top-k logprobs of one token, from the OpenAI chat, completions or vLLM shape."""
    if isinstance(entry, Mapping):
        top = entry.get("top_logprobs")
        if top is None:
            return (
                []
                if "logprob" in entry
                else [v for v in entry.values() if isinstance(v, (int, float))]
            )
        entry = top
    if isinstance(entry, Mapping):  # completions API: {token: logprob}
        return [float(v) for v in entry.values()]
    out = []
    for item in entry or ():
        if isinstance(item, Mapping):
            out.append(float(item["logprob"]))
        elif isinstance(item, (int, float)):
            out.append(float(item))
    return out


def token_entropy(logprobs: Iterable[float]) -> float:
    h = mass = 0.0
    for lp in logprobs:
        p = math.exp(lp)
        mass += p
        h -= p * lp
    rest = 1.0 - mass
    if rest > 1e-9:
        h -= rest * math.log(rest)
    return h


def srgen_flags(
    entropies: list[float],
    *,
    n: int = 20,
    k: float = 2.0,
    sigma_min: float = 0.5,
    tau_min: float = 1.8,
) -> list[int]:
    """Indices t ≥ n with Hₜ above the adaptive SRGen threshold (running window sums)."""
    flagged = []
    total = sum(entropies[:n])
    total_sq = sum(h * h for h in entropies[:n])
    for t in range(n, len(entropies)):
        mean = total / n
        std = math.sqrt(max(total_sq / n - mean * mean, 0.0))
        if entropies[t] > max(mean + k * max(std, sigma_min), tau_min):
            flagged.append(t)
        old, new = entropies[t - n], entropies[t]
        total += new - old
        total_sq += new * new - old * old
    return flagged


def uncertainty(logprobs: list[Any]) -> Uncertainty:
    entropies = [token_entropy(_top_logprobs(entry)) for entry in logprobs]
    return Uncertainty(tuple(entropies), tuple(srgen_flags(entropies)))

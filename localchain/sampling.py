"""How one answer is sampled: the defaults every local model, setting and engine shares.

:class:`~localchain.settings.Settings`, :class:`~localchain.models.LlamaCppChat` /
:class:`~localchain.models.LlamaCppLLM` and the engine all take their sampling defaults from
:data:`DEFAULT_SAMPLING`, so the defaults are written once.

Example:
    >>> DEFAULT_SAMPLING.temperature, DEFAULT_SAMPLING.seed
    (0.0, 42)
    >>> SamplingParams(max_tokens=64).top_k
    40
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_SAMPLING", "SamplingParams"]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample one answer.

    Example:
        >>> SamplingParams(temperature=0.7, seed=7).repeat_penalty
        1.1
    """

    max_tokens: int = 512
    """Most tokens generated."""
    temperature: float = 0.0
    """0 means greedy decoding."""
    top_p: float = 0.95
    """Nucleus sampling threshold."""
    top_k: int = 40
    """Top-k sampling (0 disables it)."""
    repeat_penalty: float = 1.1
    """Penalty for repeated tokens (1.0 disables it); small models loop without it."""
    seed: int = 42
    """Sampling seed; with temperature 0 answers are deterministic anyway."""


DEFAULT_SAMPLING = SamplingParams()
"""The sampling defaults of every local model and of :class:`~localchain.settings.Settings`."""

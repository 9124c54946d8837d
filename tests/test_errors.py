"""The error hierarchy: every public error is exported, and messages carry their context."""

from __future__ import annotations

import inspect

import localchain.errors as errors
from localchain.errors import ContextOverflowError, LocalchainError


def test_all_lists_every_public_error() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, LocalchainError)
        and value.__module__ == errors.__name__
        and not name.startswith("_")
    }
    assert len(defined) >= 20
    assert defined == set(errors.__all__)
    assert {"AgentError", "StepParseError", "ToolCallError"} <= defined


def test_context_overflow_message_uses_the_stored_max_tokens() -> None:
    full = ContextOverflowError(prompt_tokens=4096, n_ctx=4096, max_tokens=300)
    assert (full.prompt_tokens, full.n_ctx, full.max_tokens) == (4096, 4096, 300)
    assert "300 tokens (max_tokens)" in str(full) and "no room is left" in str(full)
    short = ContextOverflowError(prompt_tokens=4000, n_ctx=4096, max_tokens=300)
    assert "only 96 of the 300 answer tokens" in str(short)
    bare = ContextOverflowError(prompt_tokens=5000, n_ctx=4096)
    assert "at least 1 token must be left" in str(bare)
    for err in (full, short, bare):
        assert "larger context (n_ctx / LOCALCHAIN_N_CTX)" in str(err)

"""Engines: one per file and context settings; sampling defaults written once."""

from __future__ import annotations

from dataclasses import fields

import pytest

from localchain.models import LlamaCppChat, LlamaCppLLM
from localchain.models.engine import ContextOptions, get_engine
from localchain.sampling import DEFAULT_SAMPLING, SamplingParams
from localchain.settings import Settings


def test_every_context_setting_is_part_of_the_engine_key(chat: LlamaCppChat) -> None:
    base = {
        "n_ctx": chat.n_ctx,
        "n_threads": chat.engine.llama.n_threads,
        "n_batch": chat.n_batch,
        "seed": chat.seed,
    }
    same = get_engine(chat.engine.path, **base)
    assert same is chat.engine
    other_seed = get_engine(chat.engine.path, **{**base, "seed": chat.seed + 1})
    assert other_seed is not chat.engine
    assert get_engine(chat.engine.path, **{**base, "seed": chat.seed + 1}) is other_seed
    other_seed.close()
    assert chat.engine.options == ContextOptions(**base)
    with pytest.raises(TypeError, match="n_gpu"):
        get_engine(chat.engine.path, n_gpu=1)


def test_sampling_defaults_are_written_once() -> None:
    settings = Settings()
    for field in fields(SamplingParams):
        default = getattr(DEFAULT_SAMPLING, field.name)
        assert getattr(settings, field.name) == default, field.name
        assert LlamaCppChat.model_fields[field.name].default == default, field.name
        assert LlamaCppLLM.model_fields[field.name].default == default, field.name


def test_an_engine_not_loaded_for_embeddings_refuses_to_embed(chat: LlamaCppChat) -> None:
    from localchain.errors import ConfigError

    with pytest.raises(ConfigError, match="embedding=True"):
        chat.engine.embed(["hello"])


def test_undecodable_input_bytes_are_replaced_not_an_error(chat: LlamaCppChat) -> None:
    """Bytes that are not UTF-8 arrive as lone surrogates (sys.stdin, argv)."""
    broken = b"What is \xff 2 + 2?".decode("utf-8", errors="surrogateescape")
    tokens = chat.engine.tokenize(broken, add_bos=False)
    assert tokens == chat.engine.tokenize("What is \ufffd 2 + 2?", add_bos=False)
    assert chat.invoke(broken, max_tokens=4).content.strip()


def test_a_context_the_machine_cannot_hold_is_refused_before_loading() -> None:
    from localchain.errors import ConfigError

    with pytest.raises(ConfigError, match=r"n_ctx=999999999 needs about [\d,.]+ GiB") as err:
        LlamaCppChat(n_ctx=999_999_999)
    assert "trained with 8192 tokens" in str(err.value) and "LOCALCHAIN_N_CTX" in str(err.value)

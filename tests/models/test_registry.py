"""load_chat_model: backend selection, settings, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from localchain import load_chat_model, load_llm
from localchain.errors import (
    ConfigError,
    MissingDependencyError,
    ModelLoadError,
    ModelNotFoundError,
)
from localchain.models import LlamaCppChat, LlamaCppLLM, OpenAICompatibleChat, register_backend
from localchain.models.registry import backends


def test_default_is_the_embedded_model() -> None:
    chat = load_chat_model(n_ctx=2048)
    assert isinstance(chat, LlamaCppChat)
    assert chat.model_name == "SmolLM2-135M-Instruct.Q4_1"
    assert chat.engine.info.quantization == "Q4_1"


def test_path_argument_and_settings(model_path: Path, tmp_path: Path) -> None:
    (tmp_path / "localchain.toml").write_text("temperature = 0.3\nmax_tokens = 21\nn_ctx = 2048\n")
    chat = load_chat_model(model_path, seed=5)
    assert isinstance(chat, LlamaCppChat)
    assert chat.engine.path == model_path.resolve()
    assert (chat.temperature, chat.max_tokens, chat.seed) == (0.3, 21, 5)


def test_env_selects_the_model(model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALCHAIN_MODEL", str(model_path))
    monkeypatch.setenv("LOCALCHAIN_N_CTX", "2048")
    chat = load_chat_model()
    assert chat.model_path == str(model_path)


def test_missing_model_names_the_path_and_how_to_choose(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(ModelNotFoundError) as caught:
        load_chat_model(missing)
    message = str(caught.value)
    assert str(missing) in message
    assert "LOCALCHAIN_MODEL" in message and "localchain.toml" in message
    assert caught.value.path == str(missing)


def test_text_file_renamed_gguf_is_refused_before_llama_cpp(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        load_chat_model(fake)


def test_truncated_gguf_is_refused(tmp_path: Path, model_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(model_path.read_bytes()[:50_000_000])
    with pytest.raises(ModelLoadError, match="truncated"):
        load_chat_model(cut)


def test_base_url_selects_openai_compatible() -> None:
    chat = load_chat_model("my-model", base_url="http://127.0.0.1:9/v1", timeout=3)
    assert isinstance(chat, OpenAICompatibleChat)
    assert chat.model_name == "my-model"
    assert chat.openai_api_base == "http://127.0.0.1:9/v1"


def test_openai_backend_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        load_chat_model(backend="openai")


def test_unknown_backend() -> None:
    with pytest.raises(ConfigError, match="unknown backend 'nope'.*llamacpp"):
        load_chat_model(backend="nope")


def test_unknown_setting() -> None:
    with pytest.raises(TypeError, match="unknown settings: \\['tempreature'\\]"):
        load_chat_model(tempreature=0)


def test_cohere_without_its_package_says_how_to_install() -> None:
    try:
        import langchain_cohere  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="localchain\\[cohere\\]"):
            load_chat_model(backend="cohere", api_key="x")
    else:
        with pytest.raises(ConfigError, match="API key"):
            load_chat_model(backend="cohere")


def test_registered_backend_is_used() -> None:
    @register_backend("scripted")
    def make(settings: object) -> FakeListChatModel:
        return FakeListChatModel(responses=["scripted answer"])

    assert "scripted" in backends()
    assert load_chat_model(backend="scripted").invoke("hi").content == "scripted answer"


def test_load_llm_with_book_style_hand_written_template() -> None:
    from langchain_core.prompts import PromptTemplate

    llm = load_llm(n_ctx=2048, max_tokens=24, temperature=0)
    assert isinstance(llm, LlamaCppLLM)
    # The book writes the chat format by hand; here in the embedded model's ChatML.
    prompt = PromptTemplate.from_template(
        "<|im_start|>user\n{input_prompt}<|im_end|>\n<|im_start|>assistant\n"
    )
    answer = (prompt | llm).invoke({"input_prompt": "What is the capital of France?"})
    assert "Paris" in answer
    # Without the template the raw model's answer differs: the template is what was used.
    assert llm.invoke("What is the capital of France?") != answer

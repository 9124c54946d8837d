"""LangChain's standard chat model suites (langchain-tests, unit and integration) run against
``LlamaCppChat`` on the embedded SmolLM2-135M model.

Every instance shares one llama.cpp engine (same file and context settings), so the
suites' one-model-per-test fixture loads the model once. Capabilities the model does not
have are declared off through the suites' own properties, each with its reason.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests
from model_settings import TEST_CTX

from localchain.models import LlamaCppChat

pytestmark = pytest.mark.slow

# call_tools_first: asked "What is the weather in San Francisco?" with get_weather bound and
# tool_choice auto (test_agent_loop), the 135M model answers from its imagination instead
# of calling the tool; this is localchain's documented setting for small models.
PARAMS: dict[str, Any] = {"n_ctx": TEST_CTX, "seed": 42, "call_tools_first": True}


class _LocalChat:
    @property
    def chat_model_class(self) -> type[LlamaCppChat]:
        return LlamaCppChat

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return PARAMS

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    # A GGUF text model: no image, audio, video or PDF input.
    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_video_inputs(self) -> bool:
        return False

    # Anthropic-style content blocks (tool_use in the content list) are another provider's
    # message format; localchain reads OpenAI/LangChain tool calls.
    @property
    def supports_anthropic_inputs(self) -> bool:
        return False

    # One GGUF file per model object: a per-call model name has nothing to switch to.
    @property
    def supports_model_override(self) -> bool:
        return False


# Declared off through the suites' own hooks: init_from_env_params is left unset (a
# LlamaCppChat is configured by its arguments; localchain's settings and LOCALCHAIN_*
# variables go through load_chat_model), and LlamaCppChat.is_lc_serializable() is False
# (the object holds a loaded llama.cpp context).
class TestLlamaCppChatUnit(_LocalChat, ChatModelUnitTests):
    pass


class TestLlamaCppChatIntegration(_LocalChat, ChatModelIntegrationTests):
    pass

"""Chat templates: the GGUF's own, a built-in one by name, or a Jinja template you write.

A chat template turns a list of ``{"role", "content"}`` messages into the prompt text a
model was trained on. GGUF files usually carry theirs (``tokenizer.chat_template``);
localchain applies it automatically. A hand-written template replaces it, e.g. the Phi-3
format ``<|user|>\\n...<|end|>\\n<|assistant|>``.

Example:
    >>> t = resolve_chat_template("phi-3", gguf_template=None, bos_token="<s>", eos_token="</s>")
    >>> t.render([{"role": "user", "content": "Hi"}])
    '<s><|user|>\\nHi<|end|>\\n<|assistant|>\\n'
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from localchain.errors import ConfigError

__all__ = ["BUILTIN_TEMPLATES", "ChatTemplate", "resolve_chat_template"]

BUILTIN_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "chatml": (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
        "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|im_start|>assistant\n' }}{% endif %}",
        ("<|im_end|>",),
    ),
    "phi-3": (
        "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] + "
        "'<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}"
        "{% endif %}",
        ("<|end|>", "<|endoftext|>"),
    ),
    "llama-3": (
        "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + "
        "'<|end_header_id|>\n\n' + m['content'] + '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
        "{% endif %}",
        ("<|eot_id|>",),
    ),
    "gemma": (
        "{{ bos_token }}{% for m in messages %}{% set role = 'model' if m['role'] == "
        "'assistant' else 'user' %}{{ '<start_of_turn>' + role + '\n' + m['content'] + "
        "'<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<start_of_turn>model\n' }}{% endif %}",
        ("<end_of_turn>",),
    ),
}
"""The built-in chat templates by name (``chat_template="phi-3"``): name -> (Jinja template,
extra stop strings). Names: ``chatml``, ``phi-3``, ``llama-3``, ``gemma``."""

_MARKERS = (
    ("<|im_start|>", "chatml"),
    ("<|start_header_id|>", "llama-3"),
    ("<start_of_turn>", "gemma"),
    ("<|user|>", "phi-3"),
    ("[INST]", "mistral"),
)


@dataclass
class ChatTemplate:
    """A Jinja chat template ready to render, with the stop strings that end a turn.

    Example:
        >>> source, stops = BUILTIN_TEMPLATES["chatml"]
        >>> template = ChatTemplate("chatml", source, stop=list(stops))
        >>> template.render([{"role": "user", "content": "Hi"}])
        '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
        >>> template.stop
        ['<|im_end|>']
    """

    name: str
    """``gguf (chatml)``, a built-in name, or ``custom``."""
    source: str
    """The Jinja template text."""
    bos_token: str = ""
    eos_token: str = ""
    stop: list[str] = field(default_factory=list)
    """Strings that end the assistant's turn."""

    def __post_init__(self) -> None:
        try:
            self._formatter = Jinja2ChatFormatter(
                template=self.source, eos_token=self.eos_token, bos_token=self.bos_token
            )
        except Exception as err:  # jinja2.TemplateSyntaxError and friends
            raise ConfigError(f"chat template {self.name!r} is not valid Jinja: {err}") from err

    def render(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> str:
        """Render messages (and, for a template that knows them, tools) into prompt text,
        ending with the assistant's turn opener."""
        try:
            return self._formatter(messages=messages, tools=tools).prompt
        except Exception as err:
            raise ConfigError(f"chat template {self.name!r} failed to render: {err}") from err


def _family(template: str) -> str | None:
    return next((name for marker, name in _MARKERS if marker in template), None)


def resolve_chat_template(
    spec: str | None, *, gguf_template: str | None, bos_token: str, eos_token: str
) -> ChatTemplate:
    """Pick the chat template: ``spec`` (a built-in name or Jinja text), else the GGUF's.

    A model without a template of its own gets ChatML, with a warning.
    """
    stops = [eos_token] if eos_token else []
    if spec:
        if spec in BUILTIN_TEMPLATES:
            source, extra = BUILTIN_TEMPLATES[spec]
            return ChatTemplate(spec, source, bos_token, eos_token, [*extra, *stops])
        if "{{" not in spec and "{%" not in spec:
            raise ConfigError(
                f"chat_template {spec!r} is neither a built-in name "
                f"({', '.join(BUILTIN_TEMPLATES)}) nor a Jinja template"
            )
        family = _family(spec)
        extra = BUILTIN_TEMPLATES[family][1] if family in BUILTIN_TEMPLATES else ()
        return ChatTemplate("custom", spec, bos_token, eos_token, [*extra, *stops])
    if gguf_template:
        family = _family(gguf_template)
        name = f"gguf ({family})" if family else "gguf"
        extra = BUILTIN_TEMPLATES[family][1] if family in BUILTIN_TEMPLATES else ()
        return ChatTemplate(name, gguf_template, bos_token, eos_token, [*extra, *stops])
    warnings.warn(
        "the model has no chat template of its own; using ChatML. Pass chat_template=... "
        "if the model expects another format.",
        stacklevel=3,
    )
    source, extra = BUILTIN_TEMPLATES["chatml"]
    return ChatTemplate("chatml (fallback)", source, bos_token, eos_token, [*extra, *stops])

"""`localchain models`: what model is loaded (path, size, quantization, context, template)."""

from __future__ import annotations

from typing import Any

from localchain.cli.options import JsonOpt, ModelOptions, print_json, with_model_options
from localchain.cli.output import print_table


def describe_model(chat: Any, settings: Any) -> dict[str, Any]:
    """A JSON-ready description of a loaded chat model."""
    from localchain.models.capabilities import capabilities

    caps = capabilities(chat)
    info = caps.info
    if info is not None:
        return {
            "backend": "llamacpp",
            "name": chat.model_name,
            "path": info.path,
            "size_bytes": info.size_bytes,
            "size_mb": round(info.size_bytes / 1e6, 1),
            "architecture": info.architecture,
            "parameters": info.metadata.get("general.size_label"),
            "quantization": info.quantization,
            "context_length": info.context_length,
            "n_ctx": caps.context_window,
            "chat_template": caps.chat_template,
            "gguf_version": info.version,
        }
    return {
        "backend": settings.backend,
        "name": getattr(chat, "model_name", None) or settings.model,
        "base_url": settings.base_url,
        "class": type(chat).__name__,
    }


@with_model_options
def models(model_options: ModelOptions = ModelOptions(), json_output: JsonOpt = False) -> None:
    """Load the configured model and show what it is."""
    from localchain.models.registry import load_chat_model

    settings = model_options.settings()
    described = describe_model(load_chat_model(settings=settings), settings)
    if json_output:
        print_json(described)
        return
    print_table(list(described.items()))

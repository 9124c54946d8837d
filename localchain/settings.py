"""Settings: one typed object for every knob, from arguments, environment and TOML.

Precedence, highest first: keyword arguments, ``LOCALCHAIN_*`` environment variables,
``./localchain.toml`` (or the file named by ``LOCALCHAIN_CONFIG``), the user's
``~/.config/localchain/localchain.toml``, then the defaults below.

Example:
    >>> from localchain.settings import Settings
    >>> Settings(temperature=0.0, n_ctx=2048).n_ctx
    2048
"""

from __future__ import annotations

import difflib
import os
import tomllib
import warnings
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from localchain.errors import ConfigError
from localchain.sampling import DEFAULT_SAMPLING

__all__ = [
    "Settings",
    "SettingSource",
    "UnknownSettingWarning",
    "config_files",
    "explain_settings",
    "load_settings",
]


class UnknownSettingWarning(UserWarning):
    """A config file names a key that is not a setting (a typo, usually); it is ignored.

    Example:
        >>> issubclass(UnknownSettingWarning, UserWarning)
        True
    """


def config_files() -> list[Path]:
    """The TOML files settings are read from, lowest precedence first (existing or not)."""
    explicit = os.environ.get("LOCALCHAIN_CONFIG")
    if explicit:
        return [Path(explicit).expanduser()]
    user_dir = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return [user_dir / "localchain" / "localchain.toml", Path.cwd() / "localchain.toml"]


class Settings(BaseSettings):
    """Everything that selects and tunes a model.

    Example:
        >>> s = Settings(model="/models/phi-3-mini-4k-instruct-q4.gguf", n_ctx=4096)
        >>> s.backend
        'llamacpp'
    """

    model_config = SettingsConfigDict(
        env_prefix="LOCALCHAIN_", extra="ignore", validate_default=True
    )

    backend: str = "llamacpp"
    """Which kind of model: a local GGUF (``llamacpp``), an OpenAI-compatible server
    (``openai``) or Cohere (``cohere``)."""
    model: str | None = None
    """GGUF path for ``llamacpp`` (unset: the embedded SmolLM2-135M-Instruct); the model
    name for ``openai`` and ``cohere``."""
    base_url: str | None = None
    """URL of an OpenAI-compatible server, e.g. ``http://127.0.0.1:8000/v1``."""
    api_key: SecretStr | None = None
    """API key for a remote backend (a local server accepts any value)."""
    qdrant_api_key: SecretStr | None = None
    """API key of a Qdrant server (``--store qdrant+https://...``); unset: ``QDRANT_API_KEY``."""
    n_ctx: int = Field(4096, ge=16)
    """Context window in tokens for a local model."""
    n_threads: int | None = Field(None, ge=1)
    """CPU threads for llama.cpp; unset means all cores."""
    n_batch: int = Field(512, ge=1)
    """Prompt tokens evaluated per llama.cpp batch."""
    n_parallel: int = Field(1, ge=1, le=64)
    """Generations a local model decodes together (batched decoding; each has ``n_ctx``
    tokens of its own); 1 answers one call at a time."""
    seed: int = DEFAULT_SAMPLING.seed
    """Sampling seed; with temperature 0 answers are deterministic anyway."""
    temperature: float = Field(DEFAULT_SAMPLING.temperature, ge=0.0, le=2.0)
    """Sampling temperature; 0 means greedy decoding."""
    top_p: float = Field(DEFAULT_SAMPLING.top_p, gt=0.0, le=1.0)
    """Nucleus sampling threshold."""
    top_k: int = Field(DEFAULT_SAMPLING.top_k, ge=0)
    """Top-k sampling (0 disables it)."""
    repeat_penalty: float = Field(DEFAULT_SAMPLING.repeat_penalty, ge=0.0)
    """Penalty for repeated tokens (1.0 disables it); small models loop without it."""
    max_tokens: int = Field(DEFAULT_SAMPLING.max_tokens, ge=1)
    """Most tokens generated per answer."""
    chat_template: str | None = None
    """A Jinja chat template, or a built-in name (``chatml``, ``phi-3``, ``llama-3``,
    ``gemma``), used instead of the template stored in the GGUF."""
    timeout: float = Field(60.0, gt=0)
    """Seconds to wait for a remote server before giving up."""
    max_retries: int = Field(2, ge=0)
    """Retries for a remote server on connection errors and rate limits."""
    verbose: bool = False
    """Let llama.cpp print its own logs to stderr."""

    @field_validator("model", "base_url", "chat_template", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def threads(self) -> int:
        """The thread count to use: ``n_threads`` or every core."""
        return self.n_threads or os.cpu_count() or 1

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, *_toml_sources(settings_cls))


def _toml_sources(settings_cls: type[BaseSettings]) -> list[PydanticBaseSettingsSource]:
    # Highest precedence first, as pydantic-settings expects.
    return [
        TomlConfigSettingsSource(settings_cls, toml_file=path)
        for path in reversed(config_files())
        if path.is_file()
    ]


SettingSource = str
"""Where a setting came from: ``argument``, ``env LOCALCHAIN_X``, a TOML path, ``default``."""


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings` from overrides, environment and TOML, with a clear error.

    ``None`` overrides are ignored, so CLI options that were not given fall through.

    Example:
        >>> load_settings(temperature=None).temperature
        0.0
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    _check_config_files()
    try:
        return Settings(**given)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        sources = explain_settings_sources(given)
        where = ", ".join(
            f"{'.'.join(str(p) for p in e['loc'])} from {sources.get(str(e['loc'][0]), '?')}"
            for e in err.errors()
            if e["loc"]
        )
        raise ConfigError(f"invalid settings: {problems}", source=where or None) from None


def _check_config_files() -> None:
    for path in config_files():
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"config file is not valid TOML: {err}", source=str(path)) from None
        for key in sorted(set(data) - set(Settings.model_fields)):
            close = difflib.get_close_matches(key, list(Settings.model_fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            warnings.warn(
                f"{path}: {key!r} is not a localchain setting and is ignored{hint}; the "
                f"settings are: {', '.join(Settings.model_fields)}",
                UnknownSettingWarning,
                stacklevel=3,
            )


def explain_settings_sources(overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """For each setting, the name of the source that decides its value."""
    given = {k for k, v in (overrides or {}).items() if v is not None}
    env = EnvSettingsSource(Settings, env_prefix="LOCALCHAIN_", case_sensitive=False)()
    # Highest precedence first; each file is read once.
    files = [
        (str(path), TomlConfigSettingsSource(Settings, path)())
        for path in reversed(config_files())
        if path.is_file()
    ]
    found: dict[str, str] = {}
    for name in Settings.model_fields:
        if name in given:
            found[name] = "argument"
        elif name in env:
            found[name] = f"env LOCALCHAIN_{name.upper()}"
        else:
            found[name] = next((path for path, values in files if name in values), "default")
    return found


def explain_settings(**overrides: Any) -> dict[str, dict[str, Any]]:
    """The effective settings and where each came from.

    Secrets are masked. Example:
        >>> explain_settings(n_ctx=1024)["n_ctx"]
        {'value': 1024, 'source': 'argument'}
    """
    settings = load_settings(**overrides)
    sources = explain_settings_sources(overrides)
    result: dict[str, dict[str, Any]] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "**********"
        result[name] = {"value": value, "source": sources[name]}
    return result

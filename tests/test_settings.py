"""Settings: precedence of arguments, environment and TOML, and where each value came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from localchain.errors import ConfigError
from localchain.settings import Settings, config_files, explain_settings, load_settings


def test_defaults() -> None:
    settings = load_settings()
    assert settings.backend == "llamacpp"
    assert settings.model is None
    assert settings.temperature == 0.0
    assert settings.seed == 42
    assert settings.threads >= 1


def test_precedence_argument_env_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "localchain.toml").write_text(
        'n_ctx = 1024\ntemperature = 0.5\nmodel = "from-toml.gguf"\n'
    )
    monkeypatch.setenv("LOCALCHAIN_TEMPERATURE", "0.7")
    settings = load_settings(model="from-arg.gguf")
    assert settings.model == "from-arg.gguf"
    assert settings.temperature == 0.7
    assert settings.n_ctx == 1024
    explained = explain_settings(model="from-arg.gguf")
    assert explained["model"] == {"value": "from-arg.gguf", "source": "argument"}
    assert explained["temperature"]["source"] == "env LOCALCHAIN_TEMPERATURE"
    assert explained["n_ctx"] == {"value": 1024, "source": str(tmp_path / "localchain.toml")}
    assert explained["seed"] == {"value": 42, "source": "default"}


def test_project_toml_overrides_user_toml(tmp_path: Path) -> None:
    user = tmp_path / "config" / "localchain" / "localchain.toml"
    user.parent.mkdir(parents=True)
    user.write_text("n_ctx = 512\nseed = 7\n")
    (tmp_path / "localchain.toml").write_text("n_ctx = 1024\n")
    settings = load_settings()
    assert (settings.n_ctx, settings.seed) == (1024, 7)
    assert explain_settings()["seed"]["source"] == str(user)


def test_explicit_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = tmp_path / "elsewhere.toml"
    custom.write_text("max_tokens = 99\n")
    monkeypatch.setenv("LOCALCHAIN_CONFIG", str(custom))
    assert config_files() == [custom]
    assert load_settings().max_tokens == 99


def test_invalid_value_names_setting_and_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALCHAIN_N_CTX", "3")
    with pytest.raises(ConfigError, match="n_ctx") as caught:
        load_settings()
    assert "env LOCALCHAIN_N_CTX" in str(caught.value)


def test_malformed_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "localchain.toml").write_text("n_ctx = = 3\n")
    with pytest.raises(ConfigError, match="localchain.toml"):
        load_settings()


def test_secret_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALCHAIN_API_KEY", "sk-secret")
    assert load_settings().api_key.get_secret_value() == "sk-secret"
    assert explain_settings()["api_key"]["value"] == "**********"


def test_none_overrides_fall_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALCHAIN_MAX_TOKENS", "77")
    assert load_settings(max_tokens=None).max_tokens == 77
    assert Settings(max_tokens=5).max_tokens == 5


def test_an_unknown_key_in_a_config_file_warns(tmp_path: Path) -> None:
    import warnings

    from localchain.settings import UnknownSettingWarning

    (tmp_path / "localchain.toml").write_text("n_ctxx = 1024\nmax_tokens = 64\n")
    with pytest.warns(UnknownSettingWarning, match="'n_ctxx' is not a localchain setting") as seen:
        settings = load_settings()
    assert "did you mean 'n_ctx'?" in str(seen[0].message)
    assert (settings.n_ctx, settings.max_tokens) == (4096, 64)  # ignored; the rest applies
    (tmp_path / "localchain.toml").write_text("max_tokens = 64\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_settings()  # known keys only: no warning

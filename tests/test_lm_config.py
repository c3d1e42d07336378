import pytest

from synth.errors import InputError
from synth.lm.config import LMConfig, resolve_lm_config, strip_credentials


def test_resolution_order(tmp_path, monkeypatch):
    monkeypatch.delenv("MIRA_LM", raising=False)
    monkeypatch.delenv("MIRA_API_BASE", raising=False)
    assert resolve_lm_config(home=tmp_path).model == "local"
    (tmp_path / "mira.toml").write_text('[lm]\nmodel = "openai/from-toml"\napi_base = "http://toml:1/v1"\n'
                                        'max_tokens = 99\n')
    cfg = resolve_lm_config(home=tmp_path)
    assert (cfg.model, cfg.api_base, cfg.max_tokens) == ("openai/from-toml", "http://toml:1/v1", 99)
    monkeypatch.setenv("MIRA_LM", "openai/from-env")
    assert resolve_lm_config(home=tmp_path).model == "openai/from-env"
    assert resolve_lm_config("openai/from-flag", home=tmp_path).model == "openai/from-flag"


def test_key_in_toml_refused_and_missing_base_explained(tmp_path, monkeypatch):
    monkeypatch.delenv("MIRA_LM", raising=False)
    monkeypatch.delenv("MIRA_API_BASE", raising=False)
    (tmp_path / "mira.toml").write_text('[lm]\nmodel = "openai/x"\napi_key = "sk-123"\n')
    with pytest.raises(InputError, match="environment only"):
        resolve_lm_config(home=tmp_path)
    (tmp_path / "mira.toml").unlink()
    with pytest.raises(InputError, match="--api-base"):
        resolve_lm_config("hosted_vllm/Qwen/Qwen3-32B", home=tmp_path)


def test_public_form_has_no_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-SECRET")
    cfg = LMConfig(model="openai/gpt-4o-mini", api_base="https://user:pw@host/v1?api_key=abc",
                   api_key_env="OPENAI_API_KEY")
    assert cfg.api_key() == "sk-SECRET"
    assert "sk-SECRET" not in str(cfg.public()) and "pw" not in str(cfg.public()) and "abc" not in str(cfg.public())
    assert strip_credentials("http://host/v1") == "http://host/v1"
    assert cfg.transport == "http" and LMConfig(model="anthropic/claude").transport == "litellm"
    assert LMConfig(model="openai/x", api_base="http://127.0.0.1:8000/v1").is_local

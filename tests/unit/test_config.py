import pytest

from tom.config import ConfigError, Settings


def test_defaults_load_from_shipped_file():
    s = Settings.load()
    assert s.stt.model == "tiny.en"
    assert s.vad.end_silence_ms <= 300
    assert s.llm.backend == "llama"


def test_every_setting_is_documented_in_tom_toml():
    import tomllib

    from tom.config import DEFAULT_CONFIG

    shipped = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for section, values in Settings().to_dict().items():
        assert section in shipped, f"[{section}] missing from config/tom.toml"
        assert set(values) == set(shipped[section]), f"[{section}] keys differ"


def test_env_overrides_file(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text('[server]\nport = 9000\n[llm]\ntemperature = 0.5\n', encoding="utf-8")
    s = Settings.load(f, env={"TOM_SERVER_PORT": "9100", "TOM_LOG_REDACT": "true"})
    assert s.server.port == 9100
    assert s.llm.temperature == 0.5
    assert s.log.redact is True


@pytest.mark.parametrize("env, words", [
    ({"TOM_LLM_BACKEND": "gpt"}, ["llm.backend", "'gpt'", "llama, openai"]),
    ({"TOM_SERVER_PORT": "eighty"}, ["server.port", "'eighty'", "int"]),
    ({"TOM_VAD_THRESHOLD": "1.5"}, ["vad.threshold", "1.5", "0.05 to 0.95"]),
    ({"TOM_CALL_GREETING": "maybe"}, ["call.greeting", "'maybe'", "bool"]),
])
def test_bad_values_name_key_value_and_allowed(env, words):
    with pytest.raises(ConfigError) as err:
        Settings.load(env=env)
    for word in words:
        assert word in str(err.value)


def test_unknown_section_and_key(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text("[servr]\nport = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown config section \[servr\]"):
        Settings.load(f)
    f.write_text("[server]\nprot = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting server.prot"):
        Settings.load(f)


def test_missing_and_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(tmp_path / "nope.toml")
    f = tmp_path / "bad.toml"
    f.write_text("[server\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(f)


def test_list_settings_from_env_and_file(tmp_path):
    s = Settings.load(env={"TOM_AUDIOSOCKET_ALLOWED_SOURCES": "10.0.0.1, 10.0.0.2"})
    assert s.audiosocket.allowed_sources == ["10.0.0.1", "10.0.0.2"]
    f = tmp_path / "t.toml"
    f.write_text('[audiosocket]\nallowed_sources = ["127.0.0.1"]\n', encoding="utf-8")
    assert Settings.load(f, env={}).audiosocket.allowed_sources == ["127.0.0.1"]
    f.write_text("[audiosocket]\nallowed_sources = 7\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="audiosocket.allowed_sources = 7 is not a valid list"):
        Settings.load(f, env={})

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


# --- issue 17, finding 5/6: nothing that slips through validation -------------------------
FLOAT_SETTINGS = [(section, name) for section, values in Settings().to_dict().items()
                  for name, value in values.items() if isinstance(value, float)]


@pytest.mark.parametrize("section,name", FLOAT_SETTINGS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), "nan", "inf"])
def test_every_float_setting_refuses_nan_and_inf(section, name, bad):
    with pytest.raises(ConfigError) as exc:
        Settings.from_dict({section: {name: bad}})
    assert f"{section}.{name}" in str(exc.value) and "finite" in str(exc.value)


def test_nan_caps_named_in_the_issue_are_refused_from_a_file(tmp_path):
    f = tmp_path / "t.toml"
    for line in ("[call]\nmax_duration_s = nan\n", "[vad]\nthreshold = nan\n"):
        f.write_text(line, encoding="utf-8")
        with pytest.raises(ConfigError, match="nan is not allowed; use a finite number"):
            Settings.load(f)


@pytest.mark.parametrize("raw,words", [
    ({"audiosocket": {"allowed_sources": ["not-an-ip"]}}, ["audiosocket.allowed_sources",
                                                           "'not-an-ip'", "10.0.0.0/24"]),
    ({"audiosocket": {"allowed_sources": [5]}}, ["audiosocket.allowed_sources", "5"]),
    ({"redis": {"url": "notaurl"}}, ["redis.url", "'notaurl'", "redis://"]),
    ({"redis": {"url": "http://127.0.0.1:6379"}}, ["redis.url", "redis://"]),
    ({"redis": {"url": "redis://127.0.0.1:port/0"}}, ["redis.url", "not a valid URL"]),
    ({"data": {"webhook_url": "not a url"}}, ["data.webhook_url", "'not a url'", "https://"]),
    ({"llm": {"base_url": "127.0.0.1:8000/v1"}}, ["llm.base_url", "http://"]),
    ({"server": {"public_url": "tom.example.com"}}, ["server.public_url", "https://"]),
    ({"server": {"public_url": "https://"}}, ["server.public_url", "no host"]),
    ({"data": {"dir": ""}}, ["data.dir", "empty", "directory"]),
    ({"data": {"dir": "   "}}, ["data.dir", "empty"]),
])
def test_addresses_urls_and_the_data_dir_are_checked(raw, words):
    with pytest.raises(ConfigError) as exc:
        Settings.from_dict(raw)
    for w in words:
        assert w in str(exc.value)


@pytest.mark.parametrize("raw", [
    {"audiosocket": {"allowed_sources": ["10.0.0.5", "10.1.0.0/16", "::1", "fd00::/8"]}},
    {"audiosocket": {"allowed_sources": "10.0.0.5, 192.168.1.0/24"}},
    {"redis": {"url": "redis://:secret@127.0.0.1:6379/0"}},
    {"redis": {"url": "rediss://redis.example:6380"}},
    {"redis": {"url": "unix:///run/redis.sock"}},
    {"data": {"webhook_url": "https://hooks.example/tom?x=1"}},
    {"server": {"public_url": "https://tom.example.com"}},
    {"redis": {"url": ""}, "data": {"webhook_url": ""}, "server": {"public_url": ""}},
])
def test_good_addresses_and_urls_pass(raw):
    Settings.from_dict(raw)


@pytest.mark.parametrize("overrides,env", [
    (None, {}),
    ({"server": {"host": "0.0.0.0", "port": 8081}}, {}),
    (None, {"TOM_SERVER_PORT": "8081"}),
])
def test_a_section_that_is_not_a_table_is_a_config_error(tmp_path, overrides, env):
    f = tmp_path / "t.toml"
    f.write_text("server = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"server = 5 at the top level.*\[server\] section"):
        Settings.load(f, env=env, overrides=overrides)

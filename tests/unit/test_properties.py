"""Property-based tests of the pure parts (Hypothesis): whatever the input, each either
answers or raises authcli's own error, never anything else; and a token never goes to
another origin than its API's."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from authcli.config import Config
from authcli.errors import UsageError
from authcli.request import parse_fields, parse_headers, parse_query, resolve_url
from authcli.tokens import MalformedRecord, MalformedResponse, TokenRecord, record_from_response
from authcli.urls import check_api_url, origin_str

API = "https://api.example.com/v1"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# URL-ish text: the characters that matter to a URL parser, and anything else now and then.
url_text = st.one_of(
    st.text(alphabet="htps:/@?#[]%.-_~!$&'()*+,;=0123456789abcdefgHIJ\\\t\n \x00\u00e9", max_size=60),
    st.text(max_size=40),
    st.builds(lambda scheme, host, rest: f"{scheme}{host}{rest}",
              st.sampled_from(["https://", "http://", "//", "HTTPS://", "https:/", ""]),
              st.sampled_from(["api.example.com", "api.example.com:443", "api.example.com.evil.com",
                               "evil.com", "api.example.com@evil.com", "[::1]", "127.0.0.1", "API.EXAMPLE.COM",
                               "api.example.com:8443", "xn--e1afmkfd.com", ""]),
              st.text(alphabet="/?#@:.%ab", max_size=12)),
)


@SETTINGS
@given(url_text)
@example("//evil.com/steal")
@example("https://api.example.com@evil.com/")
@example("https://api.example.com:443.evil.com/")
@example("/\\evil.com")
def test_a_token_never_goes_to_another_origin(path: str) -> None:
    try:
        url = resolve_url(API, path)
    except UsageError:
        return
    assert origin_str(url) == origin_str(API)


@SETTINGS
@given(url_text)
@example("https://256.256.256.256")
@example("http://127.0.0.1:8080:80/")
def test_api_urls_parse_or_are_usage_errors(url: str) -> None:
    try:
        checked = check_api_url(url)
    except UsageError:
        return
    scheme = checked.split(":", 1)[0].lower()
    assert scheme == "https" or checked.startswith(("http://127.", "http://localhost", "http://[::1]")) or (
        scheme == "http" and ".localhost" in checked.lower())


@SETTINGS
@given(st.lists(st.text(max_size=30), max_size=4))
def test_headers_parse_or_are_usage_errors(values: list[str]) -> None:
    try:
        headers = parse_headers(values)
    except UsageError:
        return
    for name, value in headers:
        assert name.lower() not in ("authorization", "proxy-authorization")
        assert "\r" not in value and "\n" not in value and value.isascii()


@SETTINGS
@given(st.lists(st.text(max_size=30), max_size=4))
def test_query_and_fields_parse_or_are_usage_errors(values: list[str]) -> None:
    for parse in (parse_query, lambda v: parse_fields(v, lambda path: "file")):
        try:
            parse(values)
        except UsageError:
            pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
token_answers = st.fixed_dictionaries({}, optional={
    "access_token": json_values | st.text(max_size=30),
    "accessToken": json_values | st.text(max_size=30),
    "refresh_token": json_values | st.text(max_size=30),
    "expires_in": json_values | st.floats() | st.text(max_size=6),
    "expiresIn": st.floats(allow_nan=True, allow_infinity=True),
    "id_token": json_values,
    "scope": json_values,
    "token_type": json_values,
})


@SETTINGS
@given(st.one_of(token_answers, json_values))
@example({"access_token": "a", "expires_in": float("nan")})
@example({"access_token": "a", "expires_in": "1e309"})
@example({"access_token": "a\r\nb"})
def test_token_answers_give_a_sane_record_or_a_malformed_response(data: Any) -> None:
    try:
        record = record_from_response(data, 1000.0, "https://api.example.com:443")
    except MalformedResponse:
        return
    assert record.expires_at is None or math.isfinite(record.expires_at)
    assert all(0x21 <= ord(ch) <= 0x7E for ch in record.access_token)
    assert TokenRecord.from_json(record.to_json()) == record


@SETTINGS
@given(st.one_of(st.text(max_size=200), json_values.map(json.dumps),
                 st.dictionaries(st.sampled_from(["version", "access_token", "refresh_token", "expires_at",
                                                  "obtained_at", "api_origin", "scope"]),
                                 json_values, max_size=7).map(lambda d: json.dumps({"version": 1, **d}))))
def test_stored_records_parse_or_are_malformed_records(text: str) -> None:
    try:
        record = TokenRecord.from_json(text)
    except MalformedRecord:
        return
    for value in (record.expires_at, record.obtained_at):
        assert value is None or math.isfinite(value)


toml_documents = st.one_of(
    st.text(max_size=120),
    st.builds(lambda name, key, value: f'[profiles."{name}"]\n{key} = {value}\n',
              st.text(max_size=10).map(lambda s: s.replace('"', "").replace("\\", "")),
              st.sampled_from(["api_url", "storage", "timeout", "lock_timeout", "redirect_port", "flow", "grant",
                               "unknown_key"]),
              st.sampled_from(['"x"', "1", "-1", "nan", "inf", "1e400", "true", "[1]", "{a=1}", '"keyring"',
                               "70000", "0"])),
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    tmp_path.chmod(0o700)
    return tmp_path / "config.toml"


@SETTINGS
@given(toml_documents)
def test_config_files_load_or_are_usage_errors(config_path: Path, text: str) -> None:
    config_path.write_text(text, encoding="utf-8")
    try:
        config = Config.load(config_path)
    except UsageError:
        return
    for profile in config.profiles.values():
        for value in (profile.timeout, profile.lock_timeout):
            assert math.isfinite(value) and value > 0

"""``redline.kernel.secrets``: one way to read a secret a config names, for collectors and webhooks alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.kernel.errors import ConfigError
from redline.kernel.secrets import Secrets, secret_from_env

SECRET = "hunter2-do-not-print"


def test_the_variable_wins_over_its_file_and_is_stripped(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_text("from-the-file")
    assert secret_from_env("TOKEN", {"TOKEN": f"  {SECRET}\n", "TOKEN_FILE": str(other)}) == SECRET


def test_an_empty_variable_falls_back_to_its_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text(f"{SECRET}\n")
    assert secret_from_env("TOKEN", {"TOKEN": " ", "TOKEN_FILE": str(secret_file)}, where="bearer_token_env") == SECRET


def test_an_empty_file_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")
    with pytest.raises(ConfigError) as info:
        secret_from_env("TOKEN", {"TOKEN_FILE": str(empty)}, where="bearer_token_env")
    assert str(info.value) == "the file named by TOKEN_FILE (named by bearer_token_env) is empty"


def test_an_unreadable_file_is_an_error_naming_the_variable_not_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        secret_from_env("TOKEN", {"TOKEN_FILE": str(tmp_path / "absent")}, where="password_env")
    assert str(info.value) == "cannot read TOKEN_FILE (named by password_env): No such file or directory"


def test_the_error_never_holds_a_value_of_the_environment() -> None:
    with pytest.raises(ConfigError) as info:
        secret_from_env("TOKEN", {"OTHER": SECRET}, where="bearer_token_env")
    assert str(info.value) == "environment variable TOKEN (named by bearer_token_env) is not set (nor TOKEN_FILE)"


def test_secrets_repr_shows_keys_not_values() -> None:
    shown = repr(Secrets(Authorization=f"Bearer {SECRET}"))
    assert SECRET not in shown
    assert shown == "Secrets(keys=['Authorization'], values=***)"

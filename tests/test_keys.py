"""API keys: environment first, then the OS keyring (an in-memory backend here), never shown."""

from __future__ import annotations

import io
from collections.abc import Iterator

import keyring
import keyring.backend
import pytest
from keyring.backends import fail
from keyring.errors import KeyringLocked, PasswordDeleteError

from xlhedge.errors import InputError
from xlhedge.keys import (
    EXCHANGES,
    SERVICE,
    Credentials,
    CredentialsError,
    credentials,
    delete_credentials,
    store_credentials,
)

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
PASSPHRASE = "correct horse battery"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring for tests."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise PasswordDeleteError(username)
        del self.store[service, username]


class LockedKeyring(MemoryKeyring):
    """A backend that fails like a locked Secret Service, with the value in its message."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked(f"locked while reading {SECRET}")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked(f"locked while writing {password}")


@pytest.fixture
def ring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def set_backend() -> Iterator[object]:
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


def test_environment_is_read_first(ring: MemoryKeyring) -> None:
    ring.store[SERVICE, "binance:key"] = "keyring-key"
    ring.store[SERVICE, "binance:secret"] = "keyring-secret"
    env = {"XLHEDGE_BINANCE_KEY": KEY, "XLHEDGE_BINANCE_SECRET": SECRET}
    assert credentials("binance", environ=env) == Credentials(KEY, SECRET)
    # each value on its own: the environment's key, the keyring's secret
    assert credentials("Binance", environ={"XLHEDGE_BINANCE_KEY": KEY}) == Credentials(
        KEY, "keyring-secret")


def test_keyring_when_the_environment_has_none(ring: MemoryKeyring) -> None:
    ring.store[SERVICE, "okx:key"] = KEY
    ring.store[SERVICE, "okx:secret"] = SECRET
    ring.store[SERVICE, "okx:password"] = PASSPHRASE
    assert credentials("okx", environ={}) == Credentials(KEY, SECRET, PASSPHRASE)
    # an empty variable counts as unset
    assert credentials("okx", environ={"XLHEDGE_OKX_KEY": " "}).api_key == KEY


def test_missing_key_names_the_places_and_no_value(ring: MemoryKeyring) -> None:
    ring.store[SERVICE, "okx:key"] = KEY
    with pytest.raises(CredentialsError) as caught:
        credentials("okx", environ={"XLHEDGE_OKX_PASSWORD": PASSPHRASE})
    message = str(caught.value)
    assert isinstance(caught.value, InputError)
    assert message == (
        "okx API key is not set up: no API secret in the environment (XLHEDGE_OKX_SECRET) or in "
        "the OS keyring (service 'xlhedge', okx:secret); run 'xlhedge keys set okx' or set "
        "XLHEDGE_OKX_KEY and XLHEDGE_OKX_SECRET and XLHEDGE_OKX_PASSWORD"
    )
    assert KEY not in message and PASSPHRASE not in message


def test_passphrase_only_for_okx(ring: MemoryKeyring) -> None:
    env = {"XLHEDGE_DERIBIT_KEY": KEY, "XLHEDGE_DERIBIT_SECRET": SECRET}
    assert credentials("deribit", environ=env).password == ""
    with pytest.raises(CredentialsError, match=r"no API key and API secret in the environment "
                       r"\(XLHEDGE_BYBIT_KEY, XLHEDGE_BYBIT_SECRET\)"):
        credentials("bybit", environ={})


def test_unknown_exchange_lists_the_supported() -> None:
    with pytest.raises(InputError, match=r"exchange must be one of binance, bybit, okx, deribit "
                       r"\(got 'kraken'\)"):
        credentials("kraken", environ={})
    assert EXCHANGES == ("binance", "bybit", "okx", "deribit")


def test_no_keyring_backend_is_a_clear_message(set_backend: object) -> None:
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(CredentialsError) as caught:
        credentials("binance", environ={})
    assert str(caught.value) == (
        "binance API key cannot be read: no OS keyring is available (on Linux without a "
        "desktop: pip install keyrings.alt); set XLHEDGE_BINANCE_KEY and XLHEDGE_BINANCE_SECRET"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    # with both values in the environment the keyring is never asked
    env = {"XLHEDGE_BINANCE_KEY": KEY, "XLHEDGE_BINANCE_SECRET": SECRET}
    assert credentials("binance", environ=env) == Credentials(KEY, SECRET)


def test_a_failing_backend_never_echoes_its_message(set_backend: object) -> None:
    keyring.set_keyring(LockedKeyring())
    with pytest.raises(CredentialsError) as caught:
        credentials("bybit", environ={})
    assert str(caught.value) == ("bybit API key cannot be read: the OS keyring failed "
                                 "(KeyringLocked); set XLHEDGE_BYBIT_KEY and XLHEDGE_BYBIT_SECRET")
    prompts = iter([KEY, SECRET])
    with pytest.raises(CredentialsError) as stored:
        store_credentials("bybit", prompt=lambda _: next(prompts), out=io.StringIO())
    assert SECRET not in str(stored.value) and KEY not in str(stored.value)


def test_repr_hides_secret_password_and_most_of_the_key() -> None:
    creds = Credentials(KEY, SECRET, PASSPHRASE)
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert SECRET not in text and PASSPHRASE not in text and KEY[:-4] not in text
    assert repr(creds) == "Credentials(api_key='…Eh8A', secret=<hidden>, password=<hidden>)"
    assert repr(Credentials("short", "s")) == "Credentials(api_key='…', secret=<hidden>)"


def test_store_prompts_without_echo_and_recommends_read_only(ring: MemoryKeyring) -> None:
    asked: list[str] = []
    answers = iter([f" {KEY} ", SECRET, PASSPHRASE])

    def prompt(text: str) -> str:
        asked.append(text)
        return next(answers)

    out = io.StringIO()
    store_credentials("OKX", prompt=prompt, out=out)
    assert asked == ["okx API key: ", "okx API secret: ", "okx API passphrase: "]
    assert ring.store == {(SERVICE, "okx:key"): KEY, (SERVICE, "okx:secret"): SECRET,
                          (SERVICE, "okx:password"): PASSPHRASE}
    text = out.getvalue()
    assert "READ-ONLY API key" in text and "never places orders" in text
    assert KEY not in text and SECRET not in text and PASSPHRASE not in text
    assert credentials("okx", environ={}) == Credentials(KEY, SECRET, PASSPHRASE)


def test_store_without_passphrase_and_refusing_empty_values(ring: MemoryKeyring) -> None:
    answers = iter([KEY, SECRET])
    store_credentials("binance", prompt=lambda _: next(answers), out=io.StringIO())
    assert set(ring.store) == {(SERVICE, "binance:key"), (SERVICE, "binance:secret")}
    empty = iter([KEY, ""])
    with pytest.raises(CredentialsError, match="was not stored: the API secret was empty"):
        store_credentials("deribit", prompt=lambda _: next(empty), out=io.StringIO())
    assert (SERVICE, "deribit:key") not in ring.store


def test_delete(ring: MemoryKeyring) -> None:
    ring.store[SERVICE, "bybit:key"] = KEY
    ring.store[SERVICE, "bybit:secret"] = SECRET
    ring.store[SERVICE, "binance:key"] = KEY
    assert delete_credentials("bybit") == 2
    assert delete_credentials("bybit") == 0
    assert ring.store == {(SERVICE, "binance:key"): KEY}

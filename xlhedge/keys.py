"""Exchange API keys: read from the environment or the OS keyring, never from a workbook.

``credentials(exchange)`` looks for each value first in the environment
(``XLHEDGE_<EXCHANGE>_KEY``, ``XLHEDGE_<EXCHANGE>_SECRET``, ``XLHEDGE_<EXCHANGE>_PASSWORD``; the
password is OKX's API passphrase) and then in the OS keyring (Windows Credential Manager, macOS
Keychain, Secret Service) under the service ``xlhedge`` with user names ``EXCHANGE:key``,
``EXCHANGE:secret`` and ``EXCHANGE:password``. ``store_credentials`` and ``delete_credentials``
are what ``xlhedge keys set|delete EXCHANGE`` run.

xlhedge only reads positions, balances and the funding ledger: give it a read-only key. No
message, repr or log line of this module shows a secret, a passphrase or more of a key than its
last four characters.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from xlhedge.errors import InputError

SERVICE = "xlhedge"
"""The keyring service every xlhedge key is stored under."""

EXCHANGES = ("binance", "bybit", "okx", "deribit")
"""Exchanges whose positions xlhedge can read."""

_NEEDS_PASSWORD = frozenset({"okx"})
_FIELDS = (("key", "API key"), ("secret", "API secret"), ("password", "API passphrase"))


class CredentialsError(InputError):
    """A key that is missing, or a keyring that cannot be used; names where it looked."""

    def __init__(self, exchange: str, rule: str) -> None:
        super().__init__(f"{exchange} API key", rule)


def _shown_key(key: str) -> str:
    """At most the last four characters of a long key."""
    return f"…{key[-4:]}" if len(key) >= 12 else "…"


@dataclass(frozen=True)
class Credentials:
    """One exchange's API key, secret and (OKX) passphrase; repr and str hide them."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    password: str = field(default="", repr=False)

    def __repr__(self) -> str:
        password = ", password=<hidden>" if self.password else ""
        return f"Credentials(api_key={_shown_key(self.api_key)!r}, secret=<hidden>{password})"

    __str__ = __repr__

    def values(self) -> tuple[str, ...]:
        """The non-empty values, for scrubbing them out of any text."""
        return tuple(value for value in (self.api_key, self.secret, self.password) if value)


def exchange_name(exchange: str) -> str:
    """``exchange`` in lower case; an unsupported one is an error listing the supported."""
    name = str(exchange).strip().lower()
    if name not in EXCHANGES:
        raise InputError("exchange", f"must be one of {', '.join(EXCHANGES)}", exchange)
    return name


def variable(exchange: str, what: str) -> str:
    """The environment variable holding ``what`` (key, secret, password) for ``exchange``."""
    return f"XLHEDGE_{exchange.upper()}_{what.upper()}"


def _user(exchange: str, what: str) -> str:
    return f"{exchange}:{what}"


def _keyring() -> Any:
    import keyring

    return keyring


def _keyring_trouble(exchange: str, exc: BaseException, fallback: str) -> CredentialsError:
    """A one-line message for a keyring backend that failed (never the exception's text, which
    a backend might fill with what it was given)."""
    from keyring.errors import NoKeyringError

    if isinstance(exc, NoKeyringError):
        problem = ("no OS keyring is available "
                   "(on Linux without a desktop: pip install keyrings.alt)")
    else:
        problem = f"the OS keyring failed ({type(exc).__name__})"
    return CredentialsError(exchange, f"cannot be read: {problem}; {fallback}")


def credentials(exchange: str, *, environ: Mapping[str, str] = os.environ) -> Credentials:
    """The API credentials for ``exchange``: each value from its environment variable, else from
    the OS keyring (service ``xlhedge``).

    Raises :class:`CredentialsError` (an :class:`InputError`) naming the variables and keyring
    entries it looked in when a needed value is in neither, or when the keyring cannot be used.
    """
    name = exchange_name(exchange)
    wanted = [(what, label) for what, label in _FIELDS
              if what != "password" or name in _NEEDS_PASSWORD]
    found: dict[str, str] = {}
    for what, _ in _FIELDS:
        value = environ.get(variable(name, what), "").strip()
        if value:
            found[what] = value
    missing = [(what, label) for what, label in wanted if what not in found]
    env_help = " and ".join(variable(name, what) for what, _ in wanted)
    if missing:
        try:
            ring = _keyring()
            for what, _ in missing:
                value = ring.get_password(SERVICE, _user(name, what)) or ""
                if value.strip():
                    found[what] = value.strip()
        except Exception as exc:
            raise _keyring_trouble(name, exc, f"set {env_help}") from None
    still = [(what, label) for what, label in wanted if what not in found]
    if still:
        labels = " and ".join(label for _, label in still)
        places = ", ".join(variable(name, what) for what, _ in still)
        entries = ", ".join(_user(name, what) for what, _ in still)
        raise CredentialsError(
            name,
            f"is not set up: no {labels} in the environment ({places}) or in the OS keyring "
            f"(service '{SERVICE}', {entries}); run 'xlhedge keys set {name}' or set "
            f"{env_help}",
        )
    return Credentials(found["key"], found["secret"], found.get("password", ""))


READ_ONLY_ADVICE = (
    "xlhedge only reads positions, balances and funding; it never places orders or withdraws. "
    "Create a READ-ONLY API key for it (no trading, no withdrawal permission), ideally limited "
    "to your IP address."
)


def store_credentials(
    exchange: str, *, prompt: Callable[[str], str] = getpass.getpass, out: TextIO | None = None,
) -> None:
    """Ask for the key, secret (and OKX passphrase) without echo and store them in the OS
    keyring (service ``xlhedge``). What ``xlhedge keys set EXCHANGE`` runs (the CLI is wired
    elsewhere).

    Nothing is stored when a value is empty; the values are never printed.
    """
    name = exchange_name(exchange)
    stream = sys.stderr if out is None else out
    print(READ_ONLY_ADVICE, file=stream)
    values: list[tuple[str, str]] = []
    for what, label in _FIELDS:
        if what == "password" and name not in _NEEDS_PASSWORD:
            continue
        value = prompt(f"{name} {label}: ").strip()
        if not value:
            raise CredentialsError(name, f"was not stored: the {label} was empty")
        values.append((what, value))
    try:
        ring = _keyring()
        for what, value in values:
            ring.set_password(SERVICE, _user(name, what), value)
    except Exception as exc:
        env = " and ".join(variable(name, what) for what, _ in values)
        raise _keyring_trouble(name, exc, f"set {env} instead") from None
    print(f"{name}: API key stored in the OS keyring (service '{SERVICE}').", file=stream)


def delete_credentials(exchange: str) -> int:
    """Remove ``exchange``'s key, secret and passphrase from the OS keyring (``xlhedge keys
    delete EXCHANGE``; the CLI is wired elsewhere). Returns how many entries were removed;
    environment variables are not touched."""
    name = exchange_name(exchange)
    removed = 0
    try:
        ring = _keyring()
        from keyring.errors import PasswordDeleteError

        for what, _ in _FIELDS:
            try:
                ring.delete_password(SERVICE, _user(name, what))
                removed += 1
            except PasswordDeleteError:
                pass
    except Exception as exc:
        raise _keyring_trouble(name, exc, "its entries were not deleted") from None
    return removed

"""Whose budget a connection's CRM calls count against: its CRM account, shared by every connection to it."""

from __future__ import annotations

from types import SimpleNamespace

from service.crm import limiter_key


def _connection(id_: int, account: str | None, base_url: str = "https://api.hubapi.com",
                kind: str = "hubspot") -> SimpleNamespace:
    return SimpleNamespace(id=id_, kind=kind, base_url=base_url, account_id=account)


def test_two_connections_to_one_account_share_a_key_and_other_accounts_do_not() -> None:
    assert limiter_key(_connection(1, "62515")) == limiter_key(_connection(2, "62515"))
    assert limiter_key(_connection(1, "62515")) != limiter_key(_connection(3, "99999"))
    assert limiter_key(_connection(1, "7", kind="pipedrive", base_url="https://api.pipedrive.com")) != \
        limiter_key(_connection(2, "7"))


def test_a_connection_without_an_account_id_has_its_own_key() -> None:
    assert limiter_key(_connection(1, None)) == "connection:1"
    assert limiter_key(_connection(1, None)) != limiter_key(_connection(2, None))


def test_a_long_host_name_gives_a_key_short_enough_to_store() -> None:
    host = "a" * 60 + "." + "b" * 60 + ".example.com"
    key = limiter_key(_connection(1, "x" * 64, base_url=f"https://{host}", kind="amocrm"))
    assert len(key) <= 120 and key.startswith("amocrm:")
    assert key == limiter_key(_connection(2, "x" * 64, base_url=f"https://{host}", kind="amocrm"))

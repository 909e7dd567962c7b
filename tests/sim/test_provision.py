"""The tokens file: kept per server and tenant, readable by its owner only.

Provisioning itself (entities, device import, token rotation) is exercised against a real
server in ``test_simulator_e2e.py``.
"""

from __future__ import annotations

import stat
from pathlib import Path

import orjson

from urbis.sim.provision import LINK, TokenStore


def test_tokens_survive_a_restart_and_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "tokens.json"
    store = TokenStore(path, "http://127.0.0.1:8000/", "bonn")
    assert store.tokens == {}
    store.tokens.update({"gw-bonn-lighting": "t1", "lamp-00001": "t2"})
    store.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = TokenStore(path, "http://127.0.0.1:8000", "bonn")
    assert again.tokens == {"gw-bonn-lighting": "t1", "lamp-00001": "t2"}


def test_one_file_keeps_several_servers_and_tenants_apart(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    first = TokenStore(path, "http://a:8000", "bonn")
    first.tokens["gw"] = "a-bonn"
    first.save()
    second = TokenStore(path, "http://a:8000", "koeln")
    assert second.tokens == {}
    second.tokens["gw"] = "a-koeln"
    second.save()
    stored = orjson.loads(path.read_bytes())
    assert stored == {"http://a:8000|bonn": {"gw": "a-bonn"}, "http://a:8000|koeln": {"gw": "a-koeln"}}
    assert TokenStore(path, "http://a:8000", "bonn").tokens == {"gw": "a-bonn"}
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file, then renamed


def test_no_file_means_memory_only(tmp_path: Path) -> None:
    store = TokenStore(None, "http://a", "bonn")
    store.tokens["gw"] = "x"
    store.save()
    assert list(tmp_path.iterdir()) == []


def test_entities_go_out_in_urbis_terms() -> None:
    assert LINK.startswith("<https://urbis.city/contexts/urbis-context.jsonld>")
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in LINK

"""``urbis devices ...`` on SQLite and PostgreSQL, configured through URBIS_* variables as an operator would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner, Result

from urbis.cli import app
from urbis.core.clock import SystemClock
from urbis.core.db import Database
from urbis.ingestion.credentials import mosquitto_hash_matches
from urbis.ingestion.messages import RawMessage
from urbis.ingestion.service import DeadLetterService, DeviceDirectory, DeviceService, IngestionService, datetime_to_us


@pytest.fixture
def environment(db_url: str, tenant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's settings: the test database and a fresh default tenant."""
    monkeypatch.chdir(tmp_path)  # no stray urbis.toml
    for name in ("URBIS_MQTT_URL", "URBIS_MQTT_TOPIC_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("URBIS_DATABASE_URL", db_url)
    monkeypatch.setenv("URBIS_DEFAULT_TENANT", tenant)
    monkeypatch.setenv("URBIS_ENVIRONMENT", "test")
    return tenant


@pytest.fixture
def devices(db_url: str) -> Iterator[DeviceService]:
    """The same database seen through the service, to check what the CLI did."""
    db = Database(db_url)
    yield DeviceService(db)
    db.dispose()


def run(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(app, ["devices", *args], input=input, prog_name="urbis")
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def fail(*args: str, code: int = 1) -> Result:
    result = CliRunner().invoke(app, ["devices", *args], prog_name="urbis")
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_add_show_list_revoke_enable_rotate_delete(environment: str, devices: DeviceService) -> None:
    tenant = environment
    added = run(
        "add",
        "lamp-1",
        "--type",
        "streetlight-controller",
        "--longitude",
        "7.1",
        "--latitude",
        "50.7",
        "--name",
        "Lamp 1",
    )
    token = added.stdout.strip()
    assert len(token) >= 43 and "provisioned" in added.stderr
    device = devices.get(tenant, "lamp-1")
    assert device.location == {"type": "Point", "coordinates": [7.1, 50.7]}
    assert device.attributes == {"name": {"type": "Property", "value": "Lamp 1"}}
    assert devices.directory.get(tenant, "lamp-1").token_digest != token  # type: ignore[union-attr]
    shown = orjson.loads(run("show", "lamp-1").stdout)
    assert shown["id"] == "lamp-1" and shown["mqttUsername"] == f"{tenant}/lamp-1" and "token" not in shown
    run("add", "gw-1", "-T", "gateway")
    assert run("list").stdout.splitlines() == [
        "gw-1\tgateway\t-\t-\tenabled\t-",
        "lamp-1\tstreetlight-controller\turn:ngsi-ld:Streetlight:lamp-1\t-\tenabled\t-",
    ]
    assert [d["id"] for d in orjson.loads(run("list", "--type", "gateway", "--json").stdout)] == ["gw-1"]
    run("revoke", "lamp-1")
    assert not devices.get(tenant, "lamp-1").enabled
    run("enable", "lamp-1")
    assert devices.get(tenant, "lamp-1").enabled
    new = run("rotate-token", "lamp-1").stdout.strip()
    assert new != token
    with devices.db.read() as conn:
        from urbis.ingestion import store

        row = store.get_device_row(conn, tenant, "lamp-1")
    assert (
        row is not None
        and mosquitto_hash_matches(new, row.mqtt_hash)
        and not mosquitto_hash_matches(token, row.mqtt_hash)
    )
    fail("delete", "lamp-1", code=1)  # "no" at the confirmation prompt (no input) aborts
    run("delete", "lamp-1", "--yes")
    assert devices.list_devices(tenant)[1] == 1


def test_errors_are_messages_not_tracebacks(environment: str) -> None:
    run("add", "lamp-1", "-T", "streetlight-controller")
    assert "already exists" in fail("add", "lamp-1", "-T", "streetlight-controller").output
    assert "deviceType" in fail("add", "lamp-2", "-T", "toaster").output
    assert "no device" in fail("show", "ghost").output
    assert "no device" in fail("revoke", "ghost").output


def test_import_prints_tokens_and_reports_rows(environment: str, devices: DeviceService, tmp_path: Path) -> None:
    csv_file = tmp_path / "devices.csv"
    csv_file.write_text(
        "id,deviceType,entityId,entityType,gatewayId,longitude,latitude,name\n"
        "gw-1,gateway,,,,,,\n"
        + "".join(f"lamp-{n},streetlight-controller,,,gw-1,7.1,50.7,Lamp {n}\n" for n in range(50))
        + "lamp-0,streetlight-controller,,,,,,\n"
    )
    result = run("import", str(csv_file))
    lines = result.stdout.splitlines()
    assert lines[0] == "id,token" and len(lines) == 52
    assert "row 52 (line 53)" in result.stderr and "created 51 devices, 1 rows failed" in result.stderr
    assert devices.list_devices(environment, gateway_id="gw-1")[1] == 50
    json_file = tmp_path / "more.json"
    json_file.write_bytes(orjson.dumps([{"id": "aq-1", "deviceType": "air-quality-station"}]))
    out = tmp_path / "tokens.csv"
    run("import", str(json_file), "--out", str(out))
    assert out.read_text().splitlines()[1].startswith("aq-1,") and (out.stat().st_mode & 0o777) == 0o600
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'[{"id": "x"}]')
    fail("import", str(bad))


def test_deadletters_listing(environment: str, db_url: str) -> None:
    db = Database(db_url)
    try:
        devices = DeviceService(db)
        devices.create(environment, {"id": "lamp-1", "deviceType": "streetlight-controller"})
        deadletters = DeadLetterService(db)
        ingestion = IngestionService(DeviceDirectory(db), None, deadletters)
        now = datetime_to_us(SystemClock().now())
        ingestion.ingest(
            [
                RawMessage(environment, "lamp-1", b"{nope", now, "mqtt"),
                RawMessage(environment, "ghost", b"{}", now, "mqtt"),
            ]
        )
    finally:
        db.dispose()
    result = run("deadletters")
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and {line.split("\t")[3] for line in lines} == {"malformed", "unknown-device"}
    assert "2 of 2 dead letters" in result.stderr
    assert [d["deviceId"] for d in orjson.loads(run("deadletters", "--reason", "malformed", "--json").stdout)] == [
        "lamp-1"
    ]
    assert "purged" in run("deadletters", "--purge").stderr
    fail("deadletters", "--reason", "boredom", code=2)


def test_mqtt_config(environment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("add", "gw-1", "-T", "gateway")
    token = run("add", "lamp-1", "-T", "streetlight-controller").stdout.strip()
    run("add", "lamp-2", "-T", "streetlight-controller")
    run("revoke", "lamp-2")
    run("add", "odd:one", "-T", "streetlight-controller")
    monkeypatch.setenv("URBIS_MQTT_URL", "mqtt://urbis-svc:s3cret@127.0.0.1:1883")
    passwd, acl = tmp_path / "conf" / "urbis.passwd", tmp_path / "conf" / "urbis.acl"
    result = run(
        "mqtt-config",
        "--password-file",
        str(passwd),
        "--acl-file",
        str(acl),
        "--service-topic",
        "write notify/#",
        "--tenant",
        environment,
    )
    assert "allow_anonymous false" in result.stdout and f"password_file {passwd.resolve()}" in result.stdout
    assert f"skipped {environment}/odd:one" in result.stderr
    entries = dict(line.split(":", 1) for line in passwd.read_text().splitlines())
    assert set(entries) == {"urbis-svc", f"{environment}/gw-1", f"{environment}/lamp-1"}
    assert mosquitto_hash_matches(token, entries[f"{environment}/lamp-1"])
    assert mosquitto_hash_matches("s3cret", entries["urbis-svc"])
    text = acl.read_text()
    assert f"user {environment}/lamp-1\ntopic write urbis/{environment}/lamp-1/attrs\n" in text
    assert f"topic write urbis/{environment}/gw-1/gateway" in text and "topic write notify/#" in text
    assert "lamp-2" not in text
    monkeypatch.delenv("URBIS_MQTT_URL")
    run(
        "mqtt-config",
        "--password-file",
        str(passwd),
        "--acl-file",
        str(acl),
        "--service-user",
        "svc",
        "--service-password-stdin",
        input="pw\n",
    )
    assert mosquitto_hash_matches("pw", dict(line.split(":", 1) for line in passwd.read_text().splitlines())["svc"])
    fail("mqtt-config", "--password-file", str(passwd), "--acl-file", str(acl), "--service-user", "svc", code=2)
    assert "no service user" in run("mqtt-config", "--password-file", str(passwd), "--acl-file", str(acl)).stderr

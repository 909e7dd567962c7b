"""``urbis devices ...``: provision, import, list, revoke and delete devices; dead letters; broker config.

Settings are read when a command runs, from ``URBIS_*`` variables and
``urbis.toml``; the database must already be migrated.  Tokens are printed on
standard output (and only there, once); messages go to standard error, so
``urbis devices add lamp-1 -T streetlight-controller > token.txt`` keeps just the token.
A running server notices changes made here within its device cache lifetime (30 s).
"""

from __future__ import annotations

import contextlib
import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError

from urbis.core.db import Database
from urbis.core.errors import UrbisError
from urbis.core.settings import Settings
from urbis.ingestion.credentials import mosquitto_hash
from urbis.ingestion.decoders import REASONS
from urbis.ingestion.devices import parse_csv, parse_json_import
from urbis.ingestion.mqtt_security import build_config, mosquitto_conf, parse_service_topics, write_atomically
from urbis.ingestion.profiles import PROFILES
from urbis.ingestion.service import DeadLetterService, DeviceService

devices_app = typer.Typer(
    help="Device registry: provisioning, tokens, revocation, dead letters and MQTT broker security.",
    no_args_is_help=True,
)

TenantOption = Annotated[
    str | None, typer.Option("--tenant", "-t", help="Tenant (city); default: the default tenant of the settings.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@dataclass
class _Context:
    settings: Settings
    db: Database
    devices: DeviceService
    deadletters: DeadLetterService

    def tenant(self, given: str | None) -> str:
        return given or self.settings.default_tenant


@contextlib.contextmanager
def _services() -> Iterator[_Context]:
    """The services for one command; service errors become a message and exit status 1."""
    try:
        settings = Settings()  # type: ignore[call-arg, unused-ignore]
    except ValidationError as exc:
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from None
    db = Database(settings.effective_database_url)
    try:
        yield _Context(
            settings,
            db,
            DeviceService(db),
            DeadLetterService(db, retention_days=settings.deadletter_retention_days),
        )
    except UrbisError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()


def _print_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@devices_app.command("add")
def add(
    device_id: Annotated[str, typer.Argument(help="Device id (letters, digits, '-', '_', '.', ':').")],
    device_type: Annotated[
        str, typer.Option("--type", "-T", help=f"Device type: {', '.join(PROFILES)}.", show_default=False)
    ],
    tenant: TenantOption = None,
    entity_id: Annotated[
        str | None, typer.Option(help="URN of the entity it feeds; default urn:ngsi-ld:<type>:<id>.")
    ] = None,
    entity_type: Annotated[str | None, typer.Option(help="Entity type; default from the device type.")] = None,
    gateway: Annotated[str | None, typer.Option(help="Id of the gateway that sends for this device.")] = None,
    longitude: Annotated[float | None, typer.Option(help="Longitude of the device (with --latitude).")] = None,
    latitude: Annotated[float | None, typer.Option(help="Latitude of the device (with --longitude).")] = None,
    name: Annotated[str | None, typer.Option(help="Name of the entity (a seed attribute).")] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="JSON file with the measure mapping; default: the type's profile.")
    ] = None,
) -> None:
    """Provision a device and print its token — shown this once only."""
    body: dict[str, Any] = {"id": device_id, "deviceType": device_type}
    if entity_id is not None:
        body["entityId"] = entity_id
    if entity_type is not None:
        body["entityType"] = entity_type
    if gateway is not None:
        body["gatewayId"] = gateway
    if longitude is not None or latitude is not None:
        body["location"] = {"type": "Point", "coordinates": [longitude, latitude]}
    if name is not None:
        body["attributes"] = {"name": {"type": "Property", "value": name}}
    if mapping is not None:
        body["mapping"] = orjson.loads(mapping.read_bytes())
    with _services() as ctx:
        device, token = ctx.devices.create(ctx.tenant(tenant), body)
    typer.echo(f"provisioned {device.device_type} {device.id} in {device.tenant}; its token (shown once):", err=True)
    typer.echo(token)


@devices_app.command("import")
def import_devices(
    file: Annotated[Path, typer.Argument(help="CSV (header id,deviceType,...) or JSON array of devices.")],
    tenant: TenantOption = None,
    out: Annotated[Path | None, typer.Option(help="Write 'id,token' lines here instead of standard output.")] = None,
) -> None:
    """Provision many devices at once; prints 'id,token' of every created device, errors on standard error."""
    text = file.read_text(encoding="utf-8-sig")
    with _services() as ctx:
        rows = parse_json_import(orjson.loads(text)) if file.suffix.lower() == ".json" else parse_csv(text)
        result = ctx.devices.import_devices(ctx.tenant(tenant), rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "token"])
    writer.writerows(result.created)
    if out is not None:
        write_atomically(out, buffer.getvalue(), mode=0o600)
    else:
        typer.echo(buffer.getvalue(), nl=False)
    for error in result.errors:
        where = f"row {error['row']}" + (f" (line {error['line']})" if "line" in error else "")
        typer.echo(f"{where}: {error['detail']}", err=True)
    typer.echo(f"created {len(result.created)} devices, {len(result.errors)} rows failed", err=True)
    if result.errors and not result.created:
        raise typer.Exit(1)


@devices_app.command("list")
def list_devices(
    tenant: TenantOption = None,
    device_type: Annotated[str | None, typer.Option("--type", "-T", help="Only this device type.")] = None,
    gateway: Annotated[str | None, typer.Option(help="Only the devices of this gateway.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List devices: id, type, entity, gateway, state, last seen (tab-separated)."""
    with _services() as ctx:
        devices, _total = ctx.devices.list_devices(
            ctx.tenant(tenant), device_type=device_type, gateway_id=gateway, limit=limit
        )
    if as_json:
        _print_json([d.to_json() for d in devices])
        return
    for device in devices:
        seen = device.to_json().get("lastSeenAt", "-")
        state = "enabled" if device.enabled else "revoked"
        typer.echo(
            f"{device.id}\t{device.device_type}\t{device.entity_id or '-'}\t{device.gateway_id or '-'}\t{state}\t{seen}"
        )


@devices_app.command("show")
def show(device_id: str, tenant: TenantOption = None) -> None:
    """Show one device as JSON."""
    with _services() as ctx:
        device = ctx.devices.get(ctx.tenant(tenant), device_id)
    _print_json(device.to_json())


@devices_app.command("revoke")
def revoke(device_id: str, tenant: TenantOption = None) -> None:
    """Disable a device: every message it sends is rejected until it is enabled again."""
    with _services() as ctx:
        device = ctx.devices.revoke(ctx.tenant(tenant), device_id)
    typer.echo(f"revoked {device.id}; regenerate the broker config (urbis devices mqtt-config) to lock it out of MQTT")


@devices_app.command("enable")
def enable(device_id: str, tenant: TenantOption = None) -> None:
    """Accept a revoked device's messages again."""
    with _services() as ctx:
        device = ctx.devices.enable(ctx.tenant(tenant), device_id)
    typer.echo(f"enabled {device.id}")


@devices_app.command("rotate-token")
def rotate_token(device_id: str, tenant: TenantOption = None) -> None:
    """Give a device a new token (printed once); the old one stops working."""
    with _services() as ctx:
        device, token = ctx.devices.rotate_token(ctx.tenant(tenant), device_id)
    typer.echo(f"new token of {device.id} (shown once):", err=True)
    typer.echo(token)


@devices_app.command("delete")
def delete(
    device_id: str,
    tenant: TenantOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a device and its commands (its entity and history stay)."""
    if not yes:
        typer.confirm(f"Delete device {device_id}?", abort=True)
    with _services() as ctx:
        ctx.devices.delete(ctx.tenant(tenant), device_id)
    typer.echo(f"deleted {device_id}")


@devices_app.command("deadletters")
def deadletters(
    tenant: TenantOption = None,
    device: Annotated[str | None, typer.Option(help="Only this device.")] = None,
    reason: Annotated[str | None, typer.Option(help=f"Only this reason: {', '.join(REASONS)}.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest first).")] = 50,
    purge: Annotated[bool, typer.Option("--purge", help="Delete those older than the retention, then list.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List rejected device input, newest first: time, device, transport, reason, detail."""
    if reason is not None and reason not in REASONS:
        raise typer.BadParameter(f"reason must be one of {', '.join(REASONS)}")
    with _services() as ctx:
        if purge:
            removed = ctx.deadletters.purge_expired()
            typer.echo(f"purged {removed} dead letters older than {ctx.deadletters.retention_days} days", err=True)
        letters, total = ctx.deadletters.list_deadletters(
            ctx.tenant(tenant), device_id=device, reason=reason, limit=limit
        )
    if as_json:
        _print_json([d.to_json() for d in letters])
        return
    for letter in letters:
        received = letter.to_json()["receivedAt"]
        typer.echo(f"{received}\t{letter.device_id}\t{letter.transport}\t{letter.reason}\t{letter.detail}")
    typer.echo(f"{len(letters)} of {total} dead letters", err=True)


@devices_app.command("mqtt-config")
def mqtt_config(
    password_file: Annotated[Path, typer.Option(help="Where to write the Mosquitto password file.")],
    acl_file: Annotated[Path, typer.Option(help="Where to write the Mosquitto ACL file.")],
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant (default: all).")] = None,
    service_user: Annotated[
        str | None, typer.Option(help="Broker user of Urbis itself; default: the user in URBIS_MQTT_URL.")
    ] = None,
    service_password_stdin: Annotated[
        bool, typer.Option("--service-password-stdin", help="Read the service user's password from standard input.")
    ] = False,
    service_topic: Annotated[
        list[str] | None,
        typer.Option(help="Extra grant for the service user, '<read|write|readwrite> <topic>'. Repeatable."),
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="Group of the written files (e.g. mosquitto), which are mode 0640.")
    ] = None,
) -> None:
    """Write a Mosquitto password file and ACL from the registry (per-device accounts; revoked devices left out)."""
    with _services() as ctx:
        settings = ctx.settings
        user, password = service_user, None
        if settings.mqtt_url:
            from urbis.ingestion.mqtt import BrokerAddress

            address = BrokerAddress.parse(settings.mqtt_url)
            if user is None or user == address.username:
                user, password = address.username, address.password
        if service_password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        if user is not None and password is None:
            raise typer.BadParameter("give the service user's password (--service-password-stdin or URBIS_MQTT_URL)")
        try:
            grants = parse_service_topics(service_topic or [])
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        credentials = ctx.devices.mqtt_credentials(tenant)
        config = build_config(
            credentials,
            prefix=settings.mqtt_topic_prefix,
            service_user=user,
            service_password_hash=None if password is None else mosquitto_hash(password),
            service_topics=grants,
        )
    write_atomically(password_file, config.password_file, group=group)
    write_atomically(acl_file, config.acl_file, group=group)
    for username, problem in config.skipped:
        typer.echo(f"skipped {username}: {problem}", err=True)
    if user is None:
        typer.echo("warning: no service user: Urbis itself cannot connect to this broker", err=True)
    typer.echo(f"wrote {config.accounts} device accounts to {password_file} and {acl_file}", err=True)
    typer.echo("mosquitto.conf (then reload the broker: kill -HUP <pid> or systemctl reload mosquitto):", err=True)
    typer.echo(mosquitto_conf(password_file.resolve(), acl_file.resolve()), nl=False)

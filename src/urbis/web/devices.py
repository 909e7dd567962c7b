"""The device API: registry, bulk import, commands, dead letters (user tokens) and ingestion (device tokens).

Registry, commands and dead letters need the admin or operator role in the
tenant named by ``NGSILD-Tenant``.  The ingestion endpoints accept only a
device's own token (``Authorization: Bearer <device token>``), never a user
token.  Routes are thin: parse, call one service in the thread pool, shape the
answer; errors are :class:`~urbis.core.errors.UrbisError` rendered as ProblemDetails.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from urbis.core.auth.roles import can_manage_devices, require
from urbis.core.errors import BadRequestData, InvalidRequest, UnsupportedMediaType
from urbis.ingestion.decoders import REASONS
from urbis.ingestion.devices import TENANT, check_device_id, parse_csv, parse_json_import
from urbis.ingestion.messages import RawMessage
from urbis.ingestion.profiles import PROFILES
from urbis.ingestion.service import (
    CommandService,
    DeadLetterService,
    DeviceService,
    IngestionService,
    datetime_to_us,
    error_of_outcome,
)
from urbis.web.deps import current_actor
from urbis.web.ngsild.common import call, check_params, read_body, read_json, tenant_of
from urbis.web.params import json_response, page_limit, page_offset, text_param

router = APIRouter(prefix="/api/v1", tags=["devices"])


# -- plumbing ---------------------------------------------------------------------------------


def _devices(request: Request) -> DeviceService:
    service: DeviceService = request.app.state.devices
    return service


def _ingestion(request: Request) -> IngestionService:
    service: IngestionService = request.app.state.ingestion
    return service


def _commands(request: Request) -> CommandService:
    service: CommandService = request.app.state.commands
    return service


def _deadletters(request: Request) -> DeadLetterService:
    service: DeadLetterService = request.app.state.deadletters
    return service


def _manager_tenant(request: Request) -> str:
    """The request's tenant, once the caller is known to be admin or operator there (401/403 otherwise)."""
    tenant = tenant_of(request)
    actor = current_actor(request)
    require(can_manage_devices(actor, tenant), actor, f"manage the devices of tenant '{tenant}'")
    return tenant


def _device_id(value: str) -> str:
    return check_device_id(value)


# -- the registry -----------------------------------------------------------------------------


@router.post("/devices", status_code=201, summary="Provision a device (its token is shown once)")
async def create_device(request: Request) -> Response:
    """Provision one device; 201 with the device and its token."""
    tenant = _manager_tenant(request)
    body = await read_json(request)
    device, token = await call(_devices(request).create, tenant, body)
    return json_response(
        {**device.to_json(), "token": token},
        201,
        {"Location": f"/api/v1/devices/{quote(device.id, safe='')}"},
    )


@router.post("/devices/import", status_code=201, summary="Provision many devices from CSV or a JSON array")
async def import_devices(request: Request) -> Response:
    """Bulk import (``text/csv`` or ``application/json``); 201 with created ids and tokens and per-row errors."""
    tenant = _manager_tenant(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        raw = await read_body(request)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidRequest("the CSV must be UTF-8 text") from None
        rows = parse_csv(text)
    elif media in ("application/json", "application/ld+json"):
        rows = parse_json_import(await read_json(request))
    else:
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'!r} is not supported here; use text/csv or application/json"
        )
    result = await call(_devices(request).import_devices, tenant, rows)
    return json_response(result.to_json(), 201)


@router.get("/devices", summary="List devices")
async def list_devices(request: Request) -> Response:
    """The tenant's devices by id (filters ``deviceType``, ``gatewayId``, ``entityId``); ``X-Total-Count`` holds the total."""
    tenant = _manager_tenant(request)
    check_params(request, {"deviceType", "gatewayId", "entityId", "limit", "offset"})
    device_type = request.query_params.get("deviceType")
    if device_type is not None and device_type not in PROFILES:
        raise BadRequestData(f"'deviceType' must be one of {', '.join(PROFILES)}")
    gateway_id = text_param(request, "gatewayId")
    entity_id = text_param(request, "entityId")
    devices, total = await call(
        _devices(request).list_devices,
        tenant,
        device_type=device_type,
        gateway_id=gateway_id,
        entity_id=entity_id,
        limit=page_limit(request),
        offset=page_offset(request),
    )
    return json_response([d.to_json() for d in devices], headers={"X-Total-Count": str(total)})


@router.get("/devices/{device_id}", summary="Show a device")
async def get_device(request: Request, device_id: str) -> Response:
    """One device (without its token)."""
    tenant = _manager_tenant(request)
    device = await call(_devices(request).get, tenant, _device_id(device_id))
    return json_response(device.to_json())


@router.patch("/devices/{device_id}", summary="Change a device")
async def patch_device(request: Request, device_id: str) -> Response:
    """Members present replace the current ones; ``null`` clears optional ones."""
    tenant = _manager_tenant(request)
    body = await read_json(request)
    device = await call(_devices(request).update, tenant, _device_id(device_id), body)
    return json_response(device.to_json())


@router.delete("/devices/{device_id}", status_code=204, summary="Delete a device")
async def delete_device(request: Request, device_id: str) -> Response:
    """Delete a device and its commands (its entity and history stay)."""
    tenant = _manager_tenant(request)
    await call(_devices(request).delete, tenant, _device_id(device_id))
    return Response(status_code=204)


@router.post("/devices/{device_id}/token", summary="Rotate a device's token")
async def rotate_token(request: Request, device_id: str) -> Response:
    """A new token (shown once); the old one stops working."""
    tenant = _manager_tenant(request)
    device, token = await call(_devices(request).rotate_token, tenant, _device_id(device_id))
    return json_response({**device.to_json(), "token": token})


@router.post("/devices/{device_id}/revoke", summary="Revoke a device")
async def revoke_device(request: Request, device_id: str) -> Response:
    """Disable a device: every message it sends is rejected until it is enabled again."""
    tenant = _manager_tenant(request)
    device = await call(_devices(request).revoke, tenant, _device_id(device_id))
    return json_response(device.to_json())


@router.post("/devices/{device_id}/enable", summary="Re-enable a revoked device")
async def enable_device(request: Request, device_id: str) -> Response:
    """Accept the device's messages again."""
    tenant = _manager_tenant(request)
    device = await call(_devices(request).enable, tenant, _device_id(device_id))
    return json_response(device.to_json())


# -- commands ---------------------------------------------------------------------------------


@router.post("/devices/{device_id}/commands", status_code=202, summary="Send a command to a device")
async def send_command(request: Request, device_id: str) -> Response:
    """Store the command (pending) and hand it to delivery; 202 with its id and status."""
    tenant = _manager_tenant(request)
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"command", "params"}:
        raise BadRequestData("a command is an object with 'command' and optional 'params'")
    record = await call(_commands(request).send, tenant, _device_id(device_id), body.get("command"), body.get("params"))
    return json_response(record.to_json(), 202)


@router.get("/devices/{device_id}/commands", summary="A device's commands")
async def list_commands(request: Request, device_id: str) -> Response:
    """The device's commands, newest first."""
    tenant = _manager_tenant(request)
    check_params(request, {"limit", "offset"})
    records = await call(
        _commands(request).list_commands,
        tenant,
        _device_id(device_id),
        limit=page_limit(request),
        offset=page_offset(request),
    )
    return json_response([r.to_json() for r in records])


# -- dead letters -----------------------------------------------------------------------------


def _since(request: Request) -> datetime | None:
    raw = request.query_params.get("since")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequestData(f"'since' must be an ISO 8601 time, got {raw!r:.60}") from None
    if moment.tzinfo is None:
        raise BadRequestData("'since' needs a UTC offset or 'Z'")
    return moment.astimezone(UTC)


@router.get("/deadletters", summary="List dead letters")
async def list_deadletters(request: Request) -> Response:
    """Rejected device input, newest first (filters ``deviceId``, ``reason``, ``since``); ``X-Total-Count``."""
    tenant = _manager_tenant(request)
    check_params(request, {"deviceId", "reason", "since", "limit", "offset"})
    reason = request.query_params.get("reason")
    if reason is not None and reason not in REASONS:
        raise BadRequestData(f"'reason' must be one of {', '.join(REASONS)}")
    letters, total = await call(
        _deadletters(request).list_deadletters,
        tenant,
        device_id=text_param(request, "deviceId"),
        reason=reason,
        since=_since(request),
        limit=page_limit(request),
        offset=page_offset(request),
    )
    return json_response([d.to_json() for d in letters], headers={"X-Total-Count": str(total)})


@router.get("/deadletters/{deadletter_id}", summary="Show a dead letter")
async def get_deadletter(request: Request, deadletter_id: str) -> Response:
    """One dead letter with its (truncated) payload."""
    tenant = _manager_tenant(request)
    letter = await call(_deadletters(request).get, tenant, deadletter_id)
    return json_response(letter.to_json())


@router.delete("/deadletters/{deadletter_id}", status_code=204, summary="Discard a dead letter")
async def delete_deadletter(request: Request, deadletter_id: str) -> Response:
    """Discard one dead letter."""
    tenant = _manager_tenant(request)
    await call(_deadletters(request).delete, tenant, deadletter_id)
    return Response(status_code=204)


# -- ingestion (device tokens) ----------------------------------------------------------------


def _ingest_tenant(tenant: str) -> str:
    if not TENANT.match(tenant):
        raise BadRequestData(f"tenant names are 1-64 letters, digits, '-' or '_', got {tenant!r:.80}")
    return tenant


def _device_token(request: Request) -> str:
    # A missing or non-Bearer header is simply a wrong token: the service answers 401 (and dead-letters).
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def _ingest(request: Request, tenant: str, device_id: str, kind: str) -> Response:
    ingestion = _ingestion(request)
    payload = await read_body(request)
    message = RawMessage(
        tenant=_ingest_tenant(tenant),
        device_id=device_id,
        payload=payload,
        received_us=datetime_to_us(ingestion.clock.now()),
        transport="http",
        kind="gateway" if kind == "gateway" else "device",
        token=_device_token(request),
    )
    outcome = (await call(ingestion.ingest, [message]))[0]
    error = error_of_outcome(outcome)
    if error is not None:
        raise error
    return json_response(outcome.to_json())


@router.post("/ingest/{tenant}/devices/{device_id}", summary="Measures of one device")
async def ingest_device(request: Request, tenant: str, device_id: str) -> Response:
    """One object of measures or an array of them; 200 with accepted and rejected measures."""
    return await _ingest(request, tenant, device_id, "device")


@router.post("/ingest/{tenant}/gateways/{gateway_id}", summary="Measures of many devices, from their gateway")
async def ingest_gateway(request: Request, tenant: str, gateway_id: str) -> Response:
    """``{device id: [measures, ...]}``; 200 with accepted and rejected measures."""
    return await _ingest(request, tenant, gateway_id, "gateway")


@router.get("/ingest/{tenant}/devices/{device_id}/commands", summary="Pending commands (HTTP devices poll)")
async def poll_commands(request: Request, tenant: str, device_id: str) -> Response:
    """The device's pending commands, oldest first; they are marked sent."""
    tenant = _ingest_tenant(tenant)
    await call(_ingestion(request).authenticate, tenant, device_id, _device_token(request))
    records = await call(_commands(request).poll, tenant, device_id)
    return json_response([r.downlink() for r in records])


@router.post("/ingest/{tenant}/devices/{device_id}/commands/{command_id}", summary="Acknowledge a command")
async def acknowledge_command(request: Request, tenant: str, device_id: str, command_id: str) -> Response:
    """``{"status": "OK"|"ERROR", "result": ...}``; 200 with the command."""
    tenant = _ingest_tenant(tenant)
    await call(_ingestion(request).authenticate, tenant, device_id, _device_token(request))
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"status", "result"}:
        raise BadRequestData("an acknowledgement is an object with 'status' and optional 'result'")
    record = await call(
        _commands(request).acknowledge, tenant, device_id, command_id, body.get("status"), body.get("result")
    )
    return json_response(record.to_json())

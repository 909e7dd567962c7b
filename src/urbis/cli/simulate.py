"""``urbis simulate``: run the simulated city of Bonn against an Urbis server.

The simulator is a client like any other: it logs in (or takes a token), creates the city's
infrastructure through NGSI-LD, registers the devices, and then sends their measures over
HTTP or MQTT — optionally after a quick backfill of history.  See ``docs/simulator.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import orjson
import typer

from urbis.core.settings import Settings

if TYPE_CHECKING:
    from urbis.sim.faults import Fault
    from urbis.sim.incidents import IncidentSpec
    from urbis.sim.provision import TokenStore, UrbisClient
    from urbis.sim.runner import Simulation
    from urbis.sim.transport import Transport
    from urbis.sim.world import City

PASSWORD_ENV = "URBIS_SIMULATE_PASSWORD"
RESIDENT_PASSWORD_ENV = "URBIS_SIMULATE_RESIDENT_PASSWORD"
DAY = 86_400.0
TOKEN_ENV = "URBIS_SIMULATE_TOKEN"


def _parse_start(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 date-time: {value!r}") from None
    if moment.tzinfo is None:
        raise typer.BadParameter("give the start with a time zone, e.g. 2026-11-24T06:00:00Z")
    return moment.astimezone(UTC).timestamp()


def _parse_faults(items: list[str]) -> dict[str, float]:
    overrides: dict[str, float] = {}
    for item in items:
        name, equals, value = item.partition("=")
        try:
            if not equals:
                raise ValueError
            overrides[name.strip()] = float(value)
        except ValueError:
            raise typer.BadParameter(f"expected NAME=NUMBER, e.g. lamp_failure=0.01, got {item!r}") from None
    return overrides


def _parse_incidents(items: list[str]) -> tuple[IncidentSpec, ...]:
    from urbis.sim.incidents import parse_incident

    specs = []
    for item in items:
        try:
            specs.append(parse_incident(item))
        except ValueError as exc:
            raise typer.BadParameter(f"--incident {item!r}: {exc}") from None
    return tuple(specs)


def simulate_command(
    url: Annotated[
        str | None, typer.Option(help="Base URL of Urbis (default: from settings, http://127.0.0.1:8000).")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant (city) to simulate in (default: the default tenant).")
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar=TOKEN_ENV, help="Access token of an admin or operator of the tenant.")
    ] = None,
    username: Annotated[
        str | None, typer.Option(help="Log in as this admin or operator instead of giving --token.")
    ] = None,
    password: Annotated[
        str | None, typer.Option(envvar=PASSWORD_ENV, help=f"Password for --username (or set {PASSWORD_ENV}).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same city and the same story.")] = 7,
    lights: Annotated[int, typer.Option(min=0, help="Street lights (in groups of about 50, fed by cabinets).")] = 5000,
    stations: Annotated[int, typer.Option(min=0, help="Air-quality stations (about 10 % reference-grade).")] = 50,
    bays: Annotated[int, typer.Option(min=0, help="On-street parking bays (in zones of about 50).")] = 3000,
    garages: Annotated[int, typer.Option(min=0, help="Garages with entry/exit counters.")] = 10,
    transport: Annotated[str, typer.Option(help="http or mqtt.")] = "http",
    http_mode: Annotated[
        str, typer.Option(help="gateway (batches per gateway) or device (one request per device).")
    ] = "gateway",
    mqtt_url: Annotated[
        str | None, typer.Option(help="MQTT broker (default: settings, else mqtt://127.0.0.1:1883).")
    ] = None,
    mqtt_gateway: Annotated[
        bool, typer.Option(help="Publish gateway batches instead of one message per device.")
    ] = False,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Simulated seconds per real second (60: an hour a minute).")
    ] = 1.0,
    start: Annotated[
        str | None,
        typer.Option(help="Simulated start (ISO 8601 with zone); default now, or a day ago when --speed > 1."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many real seconds of live running.")
    ] = None,
    backfill_days: Annotated[
        float, typer.Option(min=0, help="Days of history to send quickly before running live.")
    ] = 0.0,
    batch_size: Annotated[int, typer.Option(min=1, help="Most measure objects per HTTP request.")] = 5000,
    concurrency: Annotated[int, typer.Option(min=1, help="HTTP requests in flight at once.")] = 4,
    tokens_file: Annotated[
        Path | None,
        typer.Option(help="Keep device tokens here for the next run (default: <data dir>/simulator-tokens.json)."),
    ] = None,
    provision: Annotated[bool, typer.Option(help="Create the entities and register the devices first.")] = True,
    fault_scale: Annotated[float, typer.Option(min=0, help="Multiply every fault rate (0: no faults).")] = 1.0,
    fault: Annotated[
        list[str] | None, typer.Option(help="Set one fault rate or mean duration, e.g. lamp_failure=0.01 (repeatable).")
    ] = None,
    incident: Annotated[
        list[str] | None,
        typer.Option(
            help="Script an incident, KIND:TARGET@WHEN+DURATION\\[/EVERY]\\[=LEVEL] (repeatable), e.g. "
            "day-burner:lamp-00012@-10m+20m, supply-loss:any@+5m+1h/4h, pm25-episode:Zentrum@-3h+2h=80; "
            "see docs/simulator.md."
        ),
    ] = None,
    light_interval: Annotated[
        float, typer.Option(min=1, help="Seconds between the lamp controllers' and cabinet meters' periodic reports.")
    ] = 900.0,
    garage_over_capacity: Annotated[bool, typer.Option(help="Let garages count a few more cars than spaces.")] = False,
    geojson: Annotated[
        Path | None, typer.Option(help="Write the city's map (districts, streets, devices) as GeoJSON.")
    ] = None,
    entities_file: Annotated[
        Path | None, typer.Option(help="Write the city's NGSI-LD entities as a JSON array.")
    ] = None,
    export_only: Annotated[
        bool, typer.Option(help="Only write --geojson / --entities-file; contact no server.")
    ] = False,
    wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for the server to answer /healthz.")] = 60.0,
    resident: Annotated[
        str | None,
        typer.Option(
            help=f"A resident's username: residents report problems as this account (password in {RESIDENT_PASSWORD_ENV})."
        ),
    ] = None,
    report_every: Annotated[
        float, typer.Option(min=0, help="Mean real seconds between residents' reports (0: none).")
    ] = 300.0,
) -> None:
    """Run the simulated city of Bonn: lights, air-quality stations, parking bays and garages."""
    from urbis.sim.faults import FaultRates
    from urbis.sim.incidents import IncidentPlan
    from urbis.sim.runner import RunPlan
    from urbis.sim.world import CityConfig, build_city

    if transport not in ("http", "mqtt"):
        raise typer.BadParameter("--transport must be http or mqtt")
    if http_mode not in ("gateway", "device"):
        raise typer.BadParameter("--http-mode must be gateway or device")
    try:
        rates = FaultRates().scaled(fault_scale).with_overrides(_parse_faults(fault or []))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    incidents = _parse_incidents(incident or [])
    settings = Settings()
    config = CityConfig(
        seed=seed,
        lights=lights,
        stations=stations,
        bays=bays,
        garages=garages,
        faults=rates,
        incidents=incidents,
        light_interval=light_interval,
        garage_over_capacity=garage_over_capacity,
    )
    city = build_city(config)
    try:
        # Targets are checked now, against the city (the live start only moves them in time).
        IncidentPlan(incidents, city, anchor=0.0)
    except ValueError as exc:
        raise typer.BadParameter(f"--incident: {exc}") from None
    if geojson is not None:
        geojson.write_bytes(orjson.dumps(city.feature_collection()))
        typer.echo(f"map written to {geojson}")
    if entities_file is not None:
        entities_file.write_bytes(orjson.dumps(city.entities(), option=orjson.OPT_INDENT_2))
        typer.echo(f"entities written to {entities_file}")
    if export_only:
        return
    if token is None and (username is None or password is None):
        raise typer.BadParameter(f"give --token, or --username with --password (or {PASSWORD_ENV})")
    plan = RunPlan(speed=speed, start=_parse_start(start), duration=duration, backfill_days=backfill_days)
    if plan.start is not None and plan.start > datetime.now(UTC).timestamp():
        raise typer.BadParameter("--start lies in the future: Urbis rejects measures stamped in the future")
    options = {
        "url": url or settings.effective_base_url,
        "tenant": tenant or settings.default_tenant,
        "token": token,
        "username": username,
        "password": password,
        "transport": transport,
        "http_mode": http_mode,
        "mqtt_url": mqtt_url or settings.mqtt_url or "mqtt://127.0.0.1:1883",
        "mqtt_prefix": settings.mqtt_topic_prefix,
        "mqtt_gateway": mqtt_gateway,
        "batch_size": batch_size,
        "concurrency": concurrency,
        "tokens_file": tokens_file or settings.data_dir / "simulator-tokens.json",
        "provision": provision,
        "wait": wait,
        "resident": resident,
        "resident_password": os.environ.get(RESIDENT_PASSWORD_ENV),
        "report_every": report_every,
    }
    try:
        asyncio.run(run_simulation(city, plan, options))
    except Exception as exc:
        from urbis.sim.provision import ProvisioningError

        if isinstance(exc, ProvisioningError | ValueError):
            typer.echo(f"simulation stopped: {exc}", err=True)
            raise typer.Exit(1) from None
        raise


def _needed_senders(city: City, options: dict[str, Any]) -> list[str]:
    if options["transport"] == "mqtt":
        return []
    if options["http_mode"] == "gateway":
        return [device.id for device in city.gateways]
    return [device.id for device in city.devices() if device.device_type != "gateway"]


async def run_simulation(city: City, plan: Any, options: dict[str, Any]) -> None:
    """Provision (if asked) and run the simulation until it is stopped or its duration is over."""
    from urbis.sim.provision import ProvisioningError, TokenStore, UrbisClient, provision
    from urbis.sim.runner import Simulation

    client = UrbisClient(options["url"], options["tenant"], token=options["token"])
    try:
        await client.wait_ready(options["wait"])
        if client.token is None:
            await client.login(options["username"], options["password"])
        store = TokenStore(options["tokens_file"], options["url"], options["tenant"])
        needed = _needed_senders(city, options)
        if options["provision"]:
            report = await provision(client, city.entities(), city.device_bodies(), store, needed)
            typer.echo(
                f"provisioned {report.entities:,} entities; devices: {report.created:,} new, {report.existing:,} existing, "
                f"{report.rotated:,} tokens rotated"
            )
            for error in report.errors[:5]:
                typer.echo(f"  device import error: {error}", err=True)
        missing = [sender for sender in needed if sender not in store.tokens]
        if missing:
            raise ProvisioningError(f"no token for {len(missing)} sender(s), e.g. {missing[0]!r}: run with --provision")
        transport = _transport(city, options, client, store)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        simulation = Simulation(city, transport, progress=typer.echo)
        mode = options["transport"] if options["transport"] == "mqtt" else f"http ({options['http_mode']})"
        typer.echo(
            f"simulating {len(city.lights):,} lights, {len(city.stations):,} stations, {len(city.bays):,} bays and "
            f"{len(city.garages):,} garages over {mode} at speed {plan.speed:g} (Ctrl-C stops)"
        )
        residents = _residents(city, options, simulation, stop)
        try:
            result = await simulation.run(plan, stop)
        finally:
            stop.set()
            if residents is not None:
                await residents
            await transport.close()
            store.save()
        stats = transport.stats
        typer.echo(
            f"stopped at {datetime.fromtimestamp(result.ended, UTC).isoformat(timespec='seconds')}: "
            f"{stats.messages:,} messages, {stats.accepted:,} measures accepted, {stats.rejected:,} rejected, "
            f"{stats.failed:,} failed"
        )
    finally:
        await client.close()


def _residents(
    city: City, options: dict[str, Any], simulation: Simulation, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Start the residents' reports (when a resident account is given), in step with the simulated faults."""
    from urbis.sim.provision import UrbisClient
    from urbis.sim.residents import Residents

    if not options["resident"] or not options["resident_password"] or options["report_every"] <= 0:
        return None
    account = UrbisClient(options["url"], options["tenant"])

    async def login() -> str:
        return await account.login(options["resident"], options["resident_password"])

    def faults_now() -> list[Fault]:
        engine = simulation.engine
        if engine is None:
            return []
        return [f for f in engine.incidents.faults_between(engine.time - DAY, engine.time + 1) if f.active(engine.time)]

    async def run() -> None:
        async with httpx.AsyncClient(base_url=options["url"]) as http:
            residents = Residents(http, options["tenant"], login, city, interval=options["report_every"])
            try:
                await residents.run(faults_now, stop)
            finally:
                await account.close()
                typer.echo(f"residents reported {residents.stats.reported} problems ({residents.stats.failed} failed)")

    return asyncio.create_task(run())


def _transport(city: City, options: dict[str, Any], client: UrbisClient, store: TokenStore) -> Transport:
    from urbis.sim.provision import ProvisioningError
    from urbis.sim.transport import HttpTransport, MqttTransport

    if options["transport"] == "mqtt":
        return MqttTransport(
            options["mqtt_url"], options["tenant"], prefix=options["mqtt_prefix"], gateway_mode=options["mqtt_gateway"]
        )

    async def refresh(sender: str) -> str | None:
        # A saved token went stale: rotate it (logging in again if the access token expired).
        for attempt in range(2):
            try:
                token = await client.rotate_token(sender)
            except ProvisioningError as exc:
                if attempt == 0 and "HTTP 401" in str(exc) and options["username"] and options["password"]:
                    await client.login(options["username"], options["password"])
                    continue
                return None
            store.tokens[sender] = token
            store.save()
            return token
        return None

    return HttpTransport(
        options["url"],
        options["tenant"],
        store.tokens,
        mode=options["http_mode"],
        batch_size=options["batch_size"],
        concurrency=options["concurrency"],
        refresh_token=refresh,
    )

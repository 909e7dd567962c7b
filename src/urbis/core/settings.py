"""Typed settings, read from ``URBIS_*`` environment variables and ``urbis.toml``.

One class holds every knob, each with a description; ``urbis serve
--help-settings`` prints them.  Safe local defaults: SQLite under ``./var`` and
a bind to 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEV_SECRET = "dev-insecure-secret-change-me-before-production"


class Settings(BaseSettings):
    """Everything an operator can configure."""

    model_config = SettingsConfigDict(
        env_prefix="URBIS_",
        toml_file="urbis.toml",
        extra="forbid",
    )

    environment: Literal["development", "production", "test"] = Field(
        "development",
        description="Deployment kind; outside 'development' and 'test' placeholder secrets are refused.",
    )
    data_dir: Path = Field(Path("var"), description="Folder for the embedded SQLite database and other local state.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database, e.g. postgresql+psycopg://user@host/db. Default: SQLite file in data_dir.",
    )
    secret_key: str = Field(
        DEV_SECRET, description="Key that signs access tokens (HS256). Set a long random value in production."
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port the HTTP server listens on.")
    base_url: str | None = Field(
        None, description="Public base URL (for links in responses); default http://host:port."
    )
    default_tenant: str = Field(
        "urbis", description="Tenant used when a request names none (the NGSILD-Tenant header is absent)."
    )
    ngsild_open: bool = Field(
        False,
        description="Open the NGSI-LD API to anyone without a token (closed networks, conformance suites). Off by default.",
    )
    public_read_tenants: list[str] = Field(
        default_factory=list,
        description="Tenants whose NGSI-LD entities anyone may read without a token.",
    )
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Largest request body accepted, in bytes.")
    page_default: int = Field(20, ge=1, description="Default page size of NGSI-LD queries when 'limit' is not given.")
    page_max: int = Field(1000, ge=1, description="Largest page size a query may ask for; above it TooManyResults.")
    batch_max: int = Field(5000, ge=1, description="Largest number of entities in one batch operation.")
    context_fetch_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a remote JSON-LD @context.")
    context_cache_size: int = Field(256, ge=1, description="How many compiled JSON-LD contexts are kept in memory.")
    token_ttl_seconds: int = Field(3600, ge=60, description="Lifetime of issued access tokens, in seconds.")
    workers: int = Field(1, ge=1, le=64, description="Server processes sharing the port (uvicorn workers).")
    log_level: str = Field("info", description="Log level of the server (debug, info, warning, error).")
    # -- history (temporal API) ----------------------------------------------------------
    history_enabled: bool = Field(True, description="Keep every change of every attribute as history (temporal API).")
    history_retention_days: int = Field(
        400,
        ge=0,
        description="Days of raw history kept; older raw rows are dropped (roll-ups stay). 0 keeps everything.",
    )
    temporal_instance_limit: int = Field(
        1000,
        ge=1,
        description="Most instances per attribute in one temporal answer; beyond it the answer is cut (206 + Content-Range).",
    )
    rollup_interval_seconds: float = Field(
        60.0, gt=0, description="How often hourly and daily roll-ups of numeric history are brought up to date."
    )
    # -- ingestion ----------------------------------------------------------------------
    ingest_future_tolerance_seconds: int = Field(
        300, ge=0, description="Measures stamped further than this in the future are rejected to the dead-letter store."
    )
    ingest_max_measures: int = Field(
        50_000, ge=1, description="Largest number of measures accepted in one HTTP ingestion request."
    )
    deadletter_retention_days: int = Field(
        30, ge=1, description="Days rejected device messages are kept for inspection."
    )
    mqtt_url: str | None = Field(
        None,
        description="MQTT broker for device ingestion and notifications, e.g. mqtt://127.0.0.1:1883 (user:password@ allowed). Unset: MQTT off.",
    )
    mqtt_client_id: str = Field(
        "urbis-ingest",
        description="Client id of Urbis's persistent MQTT session; keep it stable so queued messages survive restarts.",
    )
    mqtt_sessions: int | None = Field(
        None,
        ge=1,
        le=64,
        description="MQTT sessions sharing the device topics (an MQTT 5 shared subscription), one per process, each with client id <mqtt_client_id>-<n>; unset: one per server worker. With one, the client id is used as is.",
    )
    mqtt_topic_prefix: str = Field(
        "urbis", description="First topic level of device topics: <prefix>/<tenant>/<device>/attrs."
    )
    mqtt_batch_max: int = Field(
        20_000,
        ge=1,
        description="Most MQTT messages written in one transaction before they are acknowledged (a burst becomes few large writes).",
    )
    # -- subscriptions and live events --------------------------------------------------
    notification_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a notification receiver to answer.")
    notification_retries: int = Field(
        4, ge=0, description="Retries of a failed notification before it counts as failed."
    )
    notification_backoff: float = Field(
        1.0, ge=0, description="Seconds before the first retry of a failed notification; doubled on each retry."
    )
    notification_workers: int = Field(
        4, ge=1, description="Threads delivering notifications (a slow receiver holds one)."
    )
    notification_queue_max: int = Field(
        10_000,
        ge=1,
        description="Notifications waiting per process; beyond it the oldest are dropped and counted as failed.",
    )
    # -- solutions -----------------------------------------------------------------------
    solutions_min_gap_seconds: float = Field(
        10.0,
        ge=0,
        description="Shortest time between two evaluations of a solution woken by changes (a city reports all the time).",
    )
    city_name: str = Field(
        "Urbis city", description="The city's name, as its published catalogue and pages name it (e.g. 'City of Bonn')."
    )
    city_website: str = Field(
        "",
        description="The city's own web site, naming it as publisher in the data catalogue (default: Urbis's base URL).",
    )
    marketplace_contact_email: str = Field(
        "", description="Where data users write about the catalogue's datasets (shown in DCAT-AP as the contact point)."
    )
    city_timezone: str = Field(
        "Europe/Berlin",
        description="The city's time zone (IANA name): local schedules, pricing time bands and daily figures follow it.",
    )
    parking_currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="Currency of parking prices (ISO 4217).")
    parking_base_price: float = Field(
        2.0, ge=0, le=100, description="Hourly price of a paid zone before any demand-based adjustment."
    )
    parking_price_min: float = Field(0.25, ge=0, description="Lowest hourly price the SFpark rule may set.")
    parking_price_max: float = Field(6.0, ge=0, description="Highest hourly price the SFpark rule may set.")
    parking_price_step: float = Field(
        0.25, ge=0, description="Price step of the SFpark rule (up at 80 % occupancy or more, down below 60 %)."
    )
    parking_price_big_step: float = Field(0.5, ge=0, description="Price step down below 30 % occupancy.")
    parking_price_period_days: int = Field(
        42, ge=1, description="Days between two price changes of a zone and time band, and the occupancy window judged."
    )
    parking_price_approval: bool = Field(
        True,
        description="Price reviews only propose changes, which an operator approves or rejects; off, they apply at once.",
    )
    lighting_tariff_per_kwh: float = Field(
        0.30,
        ge=0,
        le=100,
        description="Electricity price per kWh for street-lighting savings (a placeholder: set your city's tariff).",
    )
    lighting_currency: str = Field(
        "EUR", pattern=r"^[A-Z]{3}$", description="Currency of the street-lighting tariff (ISO 4217)."
    )
    lighting_grid_kg_co2_per_kwh: float = Field(
        0.38,
        ge=0,
        le=2,
        description="kg of CO2 per kWh of the city's grid, for lighting savings (a placeholder: set your grid's factor).",
    )
    air_quality_alert_aqi: int = Field(
        101,
        ge=1,
        le=500,
        description="US AQI at which a station's air-quality alert opens (101: unhealthy for sensitive groups).",
    )
    air_quality_alert_hysteresis: int = Field(
        10, ge=0, le=100, description="An open air-quality alert closes once the AQI is this much below the threshold."
    )
    solutions_enabled: bool = Field(
        True, description="Run the city solutions (lighting, air quality, parking) in the background."
    )
    solutions_interval_seconds: float = Field(
        30.0,
        gt=0,
        description="How often each solution evaluates the whole city; a change this process stores wakes it sooner.",
    )
    # -- the demo ------------------------------------------------------------------------
    demo_simulate: bool = Field(True, description="`urbis demo` runs the city simulator against the server.")
    demo_backfill_days: float = Field(
        0.25, ge=0, description="Days of history the demo's simulator sends quickly before running live."
    )
    demo_simulator_args: str = Field(
        "", description="More `urbis simulate` options for the demo, e.g. '--lights 500 --speed 60'."
    )
    events_heartbeat_seconds: float = Field(
        15.0, gt=0, description="Seconds between keep-alive comments on the event stream."
    )
    # -- the dashboard -------------------------------------------------------------------
    dashboard_tile_url: str = Field(
        "",
        description="Map tile background of the dashboard, e.g. 'https://tiles.example.org/{z}/{x}/{y}.png' "
        "(empty: none; the map draws the city's own districts and streets and needs no internet).",
    )
    dashboard_tile_attribution: str = Field("", description="Attribution shown on the map for the tile background.")
    dashboard_snapshot_minutes: float = Field(
        15.0,
        gt=0,
        description="How often the dashboard records its headline figures, for trends against yesterday and last month.",
    )

    # -- citizens: reports, participation, e-mail ------------------------------------------
    citizen_confirm_anonymous: bool = Field(
        True,
        description="A report from someone without an account goes public only once its e-mail address is confirmed "
        "(the link in the confirmation mail); off, it goes public at once.",
    )
    citizen_moderation_default: Literal["public", "unmoderated"] = Field(
        "public",
        description="Where new reports, comments and proposals start: 'public' (listed at once) or 'unmoderated' "
        "(listed once staff approve them).",
    )
    citizen_flags_to_hide: int = Field(
        3, ge=1, description="Flags by different people after which a report, comment or proposal is hidden for review."
    )
    citizen_rate_limit_ip: str = Field(
        "30/minute",
        description="Most citizen submissions (reports, comments, flags, supports, votes, Open311 POSTs) from one IP "
        "address, as 'N/second', 'N/minute', 'N/hour' or 'N/day'; beyond it 429 with Retry-After.",
    )
    citizen_rate_limit_account: str = Field(
        "10/minute", description="Most citizen submissions by one account (or Open311 API key), same syntax."
    )
    citizen_rate_limit_reads: str = Field(
        "300/minute", description="Most public reads (Open311 GETs, citizen app data) from one IP address."
    )
    citizen_rate_limit_storage: str = Field(
        "memory://",
        description="Where rate-limit counters live: 'memory://' (each process counts alone) or e.g. "
        "'redis://127.0.0.1:6379' (all processes share the counts).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For is believed (rate limits count the client "
        "behind them); empty: the peer address counts.",
    )
    citizen_photo_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest photo accepted with a report, in bytes (before resizing)."
    )
    citizen_photo_max_edge: int = Field(
        2048, ge=256, le=8192, description="Photos are shrunk to fit this many pixels on their longer edge."
    )
    citizen_report_radius_m: float = Field(
        50.0, gt=0, description="Open reports of the same category within this distance are offered before a new one."
    )
    open311_contact: str = Field(
        "", description="Contact named by Open311 discovery (e-mail or web page of the city's 311 team)."
    )
    open311_key_service: str = Field(
        "", description="Where Open311 developers get an API key, named by discovery (empty: the operator console)."
    )
    participation_proposal_threshold: int = Field(
        50,
        ge=1,
        description="Supports a proposal needs to go to the council (scale it to real turnout, not the census).",
    )
    participation_proposal_days: int = Field(
        90, ge=1, description="Days a proposal collects supports before it is decided (threshold reached or not)."
    )
    smtp_url: str = Field(
        "",
        description="SMTP server for notification mails, e.g. smtp://user:password@mail.example.org:587 "
        "(STARTTLS when offered) or smtps://...:465; empty: mails stay in the outbox and are logged.",
    )
    smtp_from: str = Field("urbis@localhost", description="Sender address of notification mails.")
    smtp_timeout: float = Field(10.0, gt=0, description="Seconds to wait for the SMTP server.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment beats ``urbis.toml``; explicit arguments beat both."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment == "production" and (self.secret_key == DEV_SECRET or len(self.secret_key) < 32):
            raise ValueError("URBIS_SECRET_KEY must be set to a random value of at least 32 characters in production")
        return self

    @model_validator(mode="after")
    def _check_city_rules(self) -> Settings:
        try:
            ZoneInfo(self.city_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"URBIS_CITY_TIMEZONE: unknown time zone {self.city_timezone!r}") from None
        if self.parking_price_min > self.parking_price_max:
            raise ValueError("URBIS_PARKING_PRICE_MIN must not exceed URBIS_PARKING_PRICE_MAX")
        return self

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'urbis.db').as_posix()}"

    @property
    def effective_base_url(self) -> str:
        """The public base URL used in links."""
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

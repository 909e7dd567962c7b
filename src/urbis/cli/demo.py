"""``urbis demo``: a migrated database holding the demo city and its accounts."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from urbis.context.jsonld import ContextResolver
from urbis.context.model import build_entity, utc_now_iso
from urbis.context.service import ContextService
from urbis.core.auth.service import AccountService
from urbis.core.bus import EventBus
from urbis.core.db import Database
from urbis.core.errors import AlreadyExists
from urbis.core.settings import Settings
from urbis.sim.city import CityGenerator

#: The demo accounts: username -> roles in the demo tenant.
DEMO_ACCOUNTS = {
    "admin": ["admin"],
    "operator": ["operator"],
    "mayor": ["viewer"],
    "citizen": ["citizen"],
}


def demo_passwords(data_dir: Path) -> dict[str, str]:
    """The demo accounts' passwords: made once per data folder, then read back."""
    path = data_dir / "demo-accounts.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    passwords = {name: f"{name}-{secrets.token_urlsafe(9)}" for name in DEMO_ACCOUNTS}
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(passwords, indent=2))
    path.chmod(0o600)
    return passwords


def seed_demo(settings: Settings) -> dict[str, str]:
    """Put the demo city and the demo accounts into the default tenant; returns the passwords."""
    db = Database(settings.effective_database_url)
    try:
        tenant = settings.default_tenant
        context = ContextService(db, EventBus(), default_tenant=tenant)
        resolver = ContextResolver(base_url=settings.effective_base_url)
        from urbis.context.jsonld import URBIS_CONTEXT_URL

        ctx = resolver.resolve(URBIS_CONTEXT_URL)
        now = utc_now_iso()
        entities = [build_entity(raw, ctx.expand, now) for raw in CityGenerator().demo()]
        context.batch(tenant, entities, "upsert-replace")
        accounts = AccountService(db, settings)
        passwords = demo_passwords(settings.data_dir)
        for username, roles in DEMO_ACCOUNTS.items():
            try:
                accounts.create_user(username, passwords[username], tenant=tenant, roles=roles)
            except AlreadyExists:  # seeded before: same password, and roles in this tenant too
                accounts.set_password(username, passwords[username])
                for role in roles:
                    accounts.grant_role(username, tenant, role)
        return passwords
    finally:
        db.dispose()

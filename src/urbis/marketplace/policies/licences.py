"""Open licences encoded as ODRL policies: CC BY 4.0, ODbL 1.0 and CC0 1.0, as data.

Each :class:`Licence` carries its IRI, SPDX id, title and the ODRL :class:`~urbis.marketplace.policies
.model.Policy` that encodes it (a Set whose uid is the licence IRI).  The encodings are Urbis's own,
written from the licence texts, and deliberately simple:

- **CC BY 4.0** — every use is permitted (``use``: read, aggregate, derive, distribute, commercial
  use…), with two duties: attribute the licensor, and keep the licence notice (``cc:Notice``).
  CC BY asks attribution when the material is shared; Urbis asks it for any use, acknowledged once,
  as open-data portals do.
- **ODbL 1.0** — every use is permitted, with three duties: attribute, keep the notice, and share
  derived databases that are used publicly under the ODbL (``cc:ShareAlike``).
- **CC0 1.0** — every use is permitted, without duties.

:func:`licence_offer` turns a licence into the Offer for one dataset: the city as assigner, the dataset
as target, the attribution text filled in, ``dct:license`` set to the licence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from urbis.core.errors import NotFound
from urbis.marketplace.policies.model import (
    Action,
    ActionType,
    Asset,
    ConflictStrategy,
    Duty,
    Party,
    PartyFunction,
    Permission,
    Policy,
    PolicyType,
)
from urbis.marketplace.policies.profile import normalise_policy

__all__ = ["CC0_1_0", "CC_BY_4_0", "LICENCES", "ODBL_1_0", "Licence", "licence", "licence_offer"]


@dataclass(frozen=True)
class Licence:
    """An open licence and its ODRL encoding."""

    iri: str
    spdx: str
    title: str
    policy: Policy


def _attribution(text: str) -> Duty:
    return Duty(action=Action(ActionType.ATTRIBUTE), description=text)


def _notice(iri: str) -> Duty:
    return Duty(action=Action(ActionType.CC_NOTICE), description=f"Keep the licence notice and a link to {iri}.")


def _licence(iri: str, spdx: str, title: str, duties: tuple[Duty, ...]) -> Licence:
    policy = Policy(
        uid=iri,
        type=PolicyType.SET,
        permissions=(Permission(action=Action(ActionType.USE), duties=duties),),
        conflict=ConflictStrategy.PROHIBIT,
        licence=iri,
        title=title,
    )
    return Licence(iri, spdx, title, policy)


_CC_BY_IRI: Final = "https://creativecommons.org/licenses/by/4.0/"
_ODBL_IRI: Final = "https://opendatacommons.org/licenses/odbl/1-0/"
_CC0_IRI: Final = "https://creativecommons.org/publicdomain/zero/1.0/"

CC_BY_4_0: Final = _licence(
    _CC_BY_IRI,
    "CC-BY-4.0",
    "Creative Commons Attribution 4.0 International",
    (_attribution("Credit the licensor as they ask."), _notice(_CC_BY_IRI)),
)
ODBL_1_0: Final = _licence(
    _ODBL_IRI,
    "ODbL-1.0",
    "Open Data Commons Open Database License 1.0",
    (
        _attribution("Credit the licensor as they ask."),
        _notice(_ODBL_IRI),
        Duty(
            action=Action(ActionType.CC_SHARE_ALIKE),
            description="Offer any adapted database you use publicly under the ODbL.",
        ),
    ),
)
CC0_1_0: Final = _licence(_CC0_IRI, "CC0-1.0", "Creative Commons CC0 1.0 Universal", ())

#: The licences by SPDX id.
LICENCES: Final[dict[str, Licence]] = {item.spdx: item for item in (CC_BY_4_0, ODBL_1_0, CC0_1_0)}


def licence(name: str) -> Licence:
    """The licence named by its SPDX id (``CC-BY-4.0``) or IRI; NotFound otherwise."""
    for item in LICENCES.values():
        if name in (item.spdx, item.iri, item.iri.rstrip("/")):
            return item
    raise NotFound(f"no licence {name!r}; known: {', '.join(LICENCES)}")


def licence_offer(item: Licence, *, uid: str, target: str, assigner: str, attribution: str | None = None) -> Policy:
    """The licence as the Offer of one dataset by ``assigner``; ``attribution`` is the credit line to give."""
    city = Party(uid=assigner)
    permissions = []
    for permission in item.policy.permissions:
        duties = tuple(
            replace(
                duty,
                description=attribution or duty.description,
                functions=((PartyFunction.ATTRIBUTED_PARTY, city),),
            )
            if duty.action is not None and duty.action.type is ActionType.ATTRIBUTE
            else duty
            for duty in permission.duties
        )
        permissions.append(replace(permission, target=Asset(uid=target), assigner=city, duties=duties))
    return normalise_policy(
        replace(
            item.policy,
            uid=uid,
            type=PolicyType.OFFER,
            permissions=tuple(permissions),
            title=f"{item.title} — {target}",
        )
    )

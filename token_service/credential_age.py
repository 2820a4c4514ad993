"""How old the installed credential chain is, and when a person should renew it.

Two readings of Revizto's "about a month" (docs/revizto-api.md §2c) are covered: if the
month restarts at every rotation, the keep-alive keeps the chain alive and
`refresh_token_age_seconds` is the figure to watch; if it counts from installation, the
chain must be renewed by a person before `renew_by`. The status command, the credential
route and the ReviztoCredentialAgeHigh alert all read it from here or from the gauges.
"""

from __future__ import annotations

from typing import Any

from token_service import defaults
from token_service.state import TokenState

DAY_SECONDS = 86400.0


def credential_age(state: TokenState | None, max_age_days: float, now: float) -> dict[str, Any]:
    installed_at = state.installed_at if state is not None and state.installed_at > 0 else None
    renew_by = installed_at + max_age_days * DAY_SECONDS if installed_at is not None else None
    return {
        "credential_installed_at": installed_at,
        "credential_age_seconds": round(now - installed_at, 1) if installed_at else None,
        "credential_max_age_days": max_age_days,
        "credential_renew_by": renew_by,
        "credential_renewal_due": (
            renew_by is not None
            and now >= renew_by - defaults.CREDENTIAL_AGE_WARNING_DAYS * DAY_SECONDS
        ),
    }

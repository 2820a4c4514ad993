"""Webhook deliveries: a finished job's `export.finished` event, POSTed to the job's
`notify_url` and signed per the Standard Webhooks specification (headers `webhook-id`,
`webhook-timestamp`, `webhook-signature`; secret EXPORT_WEBHOOK_SECRET in its `whsec_…`
form), retried with exponential backoff for up to 24 hours.

Every attempt of a delivery sends the same id and body, so a receiver can de-duplicate.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime

import requests
from standardwebhooks import Webhook

from jobs.model import Notification
from revizto.version import __version__

log = logging.getLogger(__name__)

EVENT_TYPE = "export.finished"
GIVE_UP_AFTER_SECONDS = 24 * 3600
MAX_BACKOFF_SECONDS = 3600.0
# A delivery taken by a dispatcher is due again after this long, if its task was lost.
DELIVERY_LEASE = 300.0
TIMEOUT = (5.0, 15.0)
USER_AGENT = f"revizto-data-exporter/{__version__} (webhooks)"


def new_notification(job_id: str, run: int, url: str, now: float) -> Notification:
    """One delivery per finish of a job (a `:retry` that finishes again sends another)."""
    return Notification(
        id=f"msg_{job_id}_{run}",
        url=url,
        state="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )


def deliver(
    notification: Notification, payload: str, secret: str, *, retry_base: float
) -> Notification:
    """One attempt; the notification as it stands afterwards (delivered, pending with
    its next attempt, or failed for good)."""
    now = time.time()
    sent_at = datetime.fromtimestamp(now, UTC)
    headers = {
        "webhook-id": notification.id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": Webhook(secret).sign(notification.id, sent_at, payload),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    status: str
    try:
        # No redirects: the allowed host is the only one this service will talk to.
        reply = requests.post(
            notification.url,
            data=payload.encode(),
            headers=headers,
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        status = str(reply.status_code)
        delivered = 200 <= reply.status_code < 300
    except requests.Timeout:
        status, delivered = "timeout", False
    except requests.RequestException as exc:
        status, delivered = f"network:{type(exc).__name__}", False
    attempts = notification.attempts + 1
    if delivered:
        log.info("webhook delivered id=%s attempts=%d", notification.id, attempts)
        return replace(
            notification,
            state="delivered",
            attempts=attempts,
            last_status=status,
            last_attempt_at=now,
            next_attempt_at=None,
            delivered_at=now,
        )
    wait = min(MAX_BACKOFF_SECONDS, retry_base * 2 ** (attempts - 1))
    if now + wait > notification.created_at + GIVE_UP_AFTER_SECONDS:
        log.error(
            "webhook failed for good id=%s attempts=%d status=%s", notification.id, attempts, status
        )
        return replace(
            notification,
            state="failed",
            attempts=attempts,
            last_status=status,
            last_attempt_at=now,
            next_attempt_at=None,
        )
    log.warning(
        "webhook delivery failed id=%s attempts=%d status=%s retry_in_s=%.0f",
        notification.id,
        attempts,
        status,
        wait,
    )
    return replace(
        notification,
        attempts=attempts,
        last_status=status,
        last_attempt_at=now,
        next_attempt_at=now + wait,
    )

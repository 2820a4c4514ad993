"""The shared state of one sandbox app, reachable from any request thread."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from sandbox.auth import TokenAuthority
from sandbox.config import SandboxConfig
from sandbox.dataset import Dataset
from sandbox.faults import FaultState
from sandbox.permissions import Permissions
from sandbox.stats import Stats

EXTENSION_KEY = "sandbox"


@dataclass(frozen=True)
class SandboxState:
    config: SandboxConfig
    dataset: Dataset
    auth: TokenAuthority
    faults: FaultState
    stats: Stats
    permissions: Permissions


def current_state() -> SandboxState:
    state: SandboxState = current_app.extensions[EXTENSION_KEY]
    return state

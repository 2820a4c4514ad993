"""A local stand-in for Revizto API v5: realistic, deterministic data plus fault injection.

Tests, benchmarks and the demo start it as `python -m sandbox --port P`; `create_app` builds
the same Flask app in-process.
"""

from sandbox.app import create_app
from sandbox.config import SandboxConfig

__all__ = ["SandboxConfig", "create_app"]

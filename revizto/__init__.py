"""A typed client for Revizto API v5: data endpoints, OAuth grants, and classified errors.

Start with `ReviztoClient` (data), `OAuthClient` (grants) and the exception tree in
`revizto.errors`, which says for every failure whether to retry, refresh, re-authenticate
or give up.
"""

from revizto.client import ReviztoClient, decode_stamp_fields, format_watermark
from revizto.errors import (
    AccessCodeRejected,
    AccessCodeWrongRegion,
    AccessDenied,
    ApiError,
    ConfigurationError,
    InvalidResponse,
    MalformedTokenResponse,
    NetworkError,
    NoApiAccess,
    NotFound,
    OAuthError,
    RateLimited,
    RefreshTokenExpired,
    RequestTimeout,
    ReviztoError,
    ServerError,
    TokenRejected,
    TransientError,
    UnexpectedResult,
    WrongRegion,
)
from revizto.oauth import OAuthClient, TokenPair
from revizto.pagination import Page
from revizto.retry import RetryPolicy
from revizto.tokens import (
    IssuedToken,
    LocalRefreshingProvider,
    StaticTokenProvider,
    TokenProvider,
)
from revizto.transport import Timeouts
from revizto.version import __version__

__all__ = [
    "AccessCodeRejected",
    "AccessCodeWrongRegion",
    "AccessDenied",
    "ApiError",
    "ConfigurationError",
    "InvalidResponse",
    "IssuedToken",
    "LocalRefreshingProvider",
    "MalformedTokenResponse",
    "NetworkError",
    "NoApiAccess",
    "NotFound",
    "OAuthClient",
    "OAuthError",
    "Page",
    "RateLimited",
    "RefreshTokenExpired",
    "RequestTimeout",
    "RetryPolicy",
    "ReviztoClient",
    "ReviztoError",
    "ServerError",
    "StaticTokenProvider",
    "Timeouts",
    "TokenPair",
    "TokenProvider",
    "TokenRejected",
    "TransientError",
    "UnexpectedResult",
    "WrongRegion",
    "__version__",
    "decode_stamp_fields",
    "format_watermark",
]

"""Default settings of the token service, each with the reason for its value."""

DEFAULT_BIND = "127.0.0.1:8081"
# Threads for the Flask routes: refresh reports, credentials, health, metrics. Callers of
# GET /v1/token wait on the event loop and hold none (token_service/front.py).
DEFAULT_THREADS = 16
DEFAULT_APPSETTINGS_PATH = "./appsettings.json"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_PREFIX = "rxp:token:"

# The seed's "refresh 5 minutes before exp"; bounded by half the lifetime at run time.
DEFAULT_REFRESH_THRESHOLD_SECONDS = 300.0
# Up to this share of the window is shaved off per token, so deployments drift apart.
REFRESH_JITTER_FRACTION = 0.1
# A token this close to expiry is not handed out: the caller could not finish a request.
MIN_USABLE_SECONDS = 5.0
MIN_USABLE_FRACTION = 0.1  # ...or a tenth of the lifetime, for short-lived test tokens

# The token call gets short timeouts and a small retry budget so that the whole refresh,
# worst case, fits inside the lock lease (guarantee 4, checked at start-up).
DEFAULT_TOKEN_CONNECT_TIMEOUT = 5.0
DEFAULT_TOKEN_READ_TIMEOUT = 15.0
DEFAULT_TOKEN_ATTEMPTS = 3
DEFAULT_TOKEN_MAX_BACKOFF = 4.0
DEFAULT_TOKEN_RETRY_AFTER_CAP = 5.0
DEFAULT_LOCK_LEASE_SECONDS = 90.0
# How long a caller waits for somebody else's refresh before being told to come back.
DEFAULT_LOCK_WAIT_SECONDS = 20.0
LOCK_POLL_SECONDS = 0.02
# A caller whose token is still valid waits this long for a proactive refresh before it is
# handed the current token (guarantee 8: callers keep working while one refresh runs).
PROACTIVE_WAIT_SECONDS = 2.0
# Ask for a token this often even when idle, so the refresh token is used and rotated
# well within Revizto's month; 0 turns it off.
DEFAULT_KEEPALIVE_SECONDS = 6 * 3600.0

# Ambiguous refusals: an HTTP 5xx from the token endpoint may be a passing server failure
# or Revizto's answer to a corrupt refresh token. It counts as a dead token only after it
# persisted for this many requests AND this long, while Revizto's other endpoints answer.
# Attempts back off (every replica alike) so the bound holds however often callers ask.
DEFAULT_REFRESH_FAILING_ATTEMPTS = 5
DEFAULT_REFRESH_FAILING_SECONDS = 300.0
# Whatever the shape of a refusal, no more refresh requests than this reach Revizto with a
# refused token before the re-auth state is raised.
MAX_REFUSED_REQUESTS = 10

# One public integration documents that the refresh chain must be renewed by a person
# about monthly even in use (docs/revizto-api.md §2c); the alert fires 5 days before.
DEFAULT_CREDENTIAL_MAX_AGE_DAYS = 30.0
CREDENTIAL_AGE_WARNING_DAYS = 5.0

# How often to check that Redis still holds the credential, and re-seed it from
# appsettings.json when it does not (a Redis restarted without its data), so readiness
# recovers without waiting for a caller. 0 turns it off.
DEFAULT_STATE_CHECK_SECONDS = 10.0

# Plain http:// is refused for Revizto's base URL except on these hosts (the sandbox: on
# loopback in tests and the demo, `sandbox` in docker compose).
DEFAULT_PLAIN_HTTP_HOSTS = "localhost,127.0.0.1,::1,sandbox"

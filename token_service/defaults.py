"""Default settings of the token service, each with the reason for its value."""

DEFAULT_BIND = "127.0.0.1:8081"
DEFAULT_THREADS = 16  # callers mostly wait on Redis or on one refresh; threads are cheap
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

"""Database: DATABASE_URL (PostgreSQL in production and tests; SQLite for `make run`)."""
import dj_database_url

from .base import BASE_DIR
from .env import env_bool, env_int, env_str

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefstudio"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        # Off by default (issue 13): a health check is a round trip before every request's first query. A connection
        # that broke (the database restarted) fails that request with a 503 (errors_http) and is then closed and
        # opened anew by the next request; DB_CONN_HEALTH_CHECKS=1 trades the round trip for that one 503.
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", False),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite is the embedded database of `make run`: WAL lets the web server read while the
    # worker writes, and a busy timeout turns lock contention into waiting rather than errors.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["NAME"] = str(BASE_DIR / DATABASES["default"]["NAME"]) if not str(
        DATABASES["default"]["NAME"]
    ).startswith("/") else DATABASES["default"]["NAME"]

# A request that finds the database out of reach answers 503 with this Retry-After (prefstudio/errors_http.py).
DB_UNAVAILABLE_RETRY_AFTER_SECONDS = env_int("DB_UNAVAILABLE_RETRY_AFTER_SECONDS", 5)

# Connections an export reads its pieces with (annotation/selectors/dataset_lines.py): PostgreSQL builds the JSON
# lines, one backend per connection, while this process writes the pieces already read. 1 reads them one after
# the other on the request's own connection. Each is opened for one export and closed at its end.
PREFSTUDIO_EXPORT_CONNECTIONS = env_int("PREFSTUDIO_EXPORT_CONNECTIONS", 2)

# The labeling loop's hot statements, and a logged-in request's session and user reads (annotation/session_auth.py),
# are prepared on the server, once per connection (annotation/db.py). 0 for a transaction-pooling PgBouncer older
# than 1.21, which cannot keep a prepared statement between transactions.
DB_PREPARE_HOT = env_bool("DB_PREPARE_HOT", True)

# A `next` that takes a lease in a transaction of its own commits without waiting for the WAL flush (annotation/
# services/labeling.py, _lease_statement: what a crash can lose is the last fraction of a second's leases, never a
# label). 0: every commit waits.
QUEUE_ASYNC_LEASE_COMMIT = env_bool("QUEUE_ASYNC_LEASE_COMMIT", True)

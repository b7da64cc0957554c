"""History tests run on the session's private PostgreSQL cluster (``tests.fixtures_postgres``)."""

from tests.fixtures_postgres import database_url, postgres  # noqa: F401 (fixtures)

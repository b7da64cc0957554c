"""Test history across runs, in PostgreSQL: the schema (``models``), its migrations
(``migrate``, Alembic scripts in ``migrations/``), the engine (``db``) and writing a
finished run (``archive``), reading it (``queries``: a test's history, flaky tests,
failure clusters), the quarantine (``quarantine``) and how tests are named
(``naming``). Redis stays the hot path; nothing here reads it."""

"""Test history across runs, in PostgreSQL: the schema (``models``), its migrations
(``migrate``, Alembic scripts in ``migrations/``), the engine (``db``) and writing a
finished run (``archive``). Redis stays the hot path; nothing here reads it."""

"""The dashboard tests share the API and gateway tests' Redis fixtures (``r``, ``store``)."""

from tests.integration.conftest import r, store

__all__ = ["r", "store"]

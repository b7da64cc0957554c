"""The REST API: the FastAPI app (``app``), its routes (``routes/``), submission and
dispatch, quotas, listing and the run reports.
"""

"""The Celery workers: the ``run_case`` task, its lease, and the executor that drives
a browser through a case's steps.
"""

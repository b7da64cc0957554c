"""The fleet's shared services in Redis and around it: the connection, the Celery
broker's options, fleet state, Grid status, API keys, the browser provider seam
and the process reaper.
"""

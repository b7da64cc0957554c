"""Clients of a fleet: the REST API over HTTP (``http``) and the gateway's WebSocket
(``ws``), as the CLI and scripts use them.
"""

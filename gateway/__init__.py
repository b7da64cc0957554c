"""The streaming gateway: run events relayed over WebSocket and Server-Sent Events,
and the live dashboard it serves.
"""

"""The Akismet-compatible API: the protocol mapping (protocol.py) and its Flask endpoints (views.py)."""

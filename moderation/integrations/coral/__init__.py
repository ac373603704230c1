"""Coral Talk's external moderation phase: signatures and mapping (protocol.py), the endpoint (views.py)."""

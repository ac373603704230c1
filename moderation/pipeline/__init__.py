"""The pure moderation pipeline: value types, normalization, checks and policy (no Flask, no SQL)."""

"""Orchestration of pipeline, classifier and store: submissions, review, block lists (no Flask)."""

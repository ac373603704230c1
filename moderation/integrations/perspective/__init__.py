"""Perspective API (commentanalyzer v1alpha1) compatibility: comments:analyze and comments:suggestscore."""

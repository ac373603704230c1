"""Other moderation services' protocols spoken by this one, each with a pure protocol module and its views."""

"""Running the service in production: gunicorn settings, JSON logs and Prometheus metrics."""

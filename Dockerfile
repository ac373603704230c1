# moderation: one image that migrates, then runs gunicorn. The default model is built at image build.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MODERATION_MODEL_DIR=/app/model \
    MODERATION_INSTANCE_DIR=/app/instance

WORKDIR /app
RUN useradd --create-home --uid 10001 moderation

COPY pyproject.toml README.md ./
COPY moderation ./moderation
RUN pip install .

COPY model/corpus ./model/corpus
# The functional suite: training measures the new model on it and records the result in the manifest.
COPY model/suites ./model/suites
# Build the default model from our corpus (a derived artifact, reproducible from corpus + code + seed).
RUN moderation train && mkdir -p /app/instance && chown -R moderation:moderation /app

# The SQLite database (and anything else the instance writes) lives here: mount a volume to keep it.
VOLUME ["/app/instance"]

USER moderation
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"

# `moderation serve` runs `db upgrade`, then execs gunicorn with the production settings.
CMD ["moderation", "serve", "--host", "0.0.0.0", "--port", "8000"]

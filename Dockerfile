# corrbot: the Telegram bot, its daily job and its health check, in one small image.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    CORRBOT_CONFIG=/etc/corrbot/config.yaml

WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml docker/install-deps.sh ./
RUN sh install-deps.sh

# Then the application itself (fast: no dependency is resolved again).
COPY README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir --no-deps .

# An unprivileged user owns only the data volume.
RUN groupadd --system --gid 10001 corrbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin corrbot \
    && mkdir -p /data /etc/corrbot \
    && chown 10001:10001 /data
COPY docker/config.yaml /etc/corrbot/config.yaml
VOLUME ["/data"]
USER 10001:10001
WORKDIR /data

HEALTHCHECK --interval=60s --timeout=15s --start-period=180s --retries=3 \
    CMD ["corrbot", "health"]

CMD ["corrbot", "run"]

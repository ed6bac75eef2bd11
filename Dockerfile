# One image for Baton's three processes: `baton web` (the default), `baton worker` and
# `baton clock`; choose with the command (see compose.yaml).
#
# Two stages: wheels are built where pip and its caches live, and only the installed
# packages are copied into a slim runtime that runs as an unprivileged user.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY orchestrator ./orchestrator
COPY config ./config
# PostgreSQL's driver comes with the image so a workspace can measure from Postgres.
RUN python -m venv /opt/baton \
    && /opt/baton/bin/pip install ".[postgres]"

FROM python:${PYTHON_VERSION}-slim
ARG BATON_UID=10001
ENV PATH=/opt/baton/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    BATON_STATE_DIR=/var/lib/baton \
    BATON_HOST=0.0.0.0 \
    PORT=3000
RUN groupadd --system --gid ${BATON_UID} baton \
    && useradd --system --uid ${BATON_UID} --gid baton --home-dir /var/lib/baton \
       --shell /usr/sbin/nologin baton \
    && mkdir -p /var/lib/baton \
    && chown baton:baton /var/lib/baton
COPY --from=build /opt/baton /opt/baton
COPY LICENSE /usr/share/doc/baton/LICENSE
WORKDIR /var/lib/baton
USER ${BATON_UID}:${BATON_UID}
EXPOSE 3000
# Probes: `baton web` answers GET /healthz on PORT; worker and clock on BATON_HEALTH_PORT
# (compose.yaml sets one per service and checks it).
ENTRYPOINT ["baton"]
CMD ["web"]

# syntax=docker/dockerfile:1
# Lendgate's image: the gateway, its command line and the source simulators.
# Keys, KEKs and the database live outside it (volumes, a KMS, PostgreSQL).

# -- build: the pinned dependencies, then the two distributions as wheels (no editable install)
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/lendgate
COPY requirements.lock /tmp/requirements.lock
RUN /opt/lendgate/bin/pip install --requirement /tmp/requirements.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sdk sdk
COPY gateway gateway
COPY consent consent
COPY connectors connectors
COPY policies policies
COPY migrations migrations
# --no-deps: everything needed is pinned above; the migrations go in as package data.
RUN /opt/lendgate/bin/pip install --no-deps ./sdk . \
    && /opt/lendgate/bin/python -c "import migrations, pathlib; assert list(pathlib.Path(migrations.__file__).parent.glob('versions/*.py'))"

# -- runtime: the virtual environment only, run by an unprivileged user
FROM python:3.11-slim
# The authorization letters' PDFs embed a font with Chinese glyphs: Debian's WenQuanYi Micro Hei.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 lendgate \
    && useradd --system --uid 10001 --gid lendgate --home-dir /var/lib/lendgate --create-home lendgate
COPY --from=build /opt/lendgate /opt/lendgate
ENV PATH=/opt/lendgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LENDGATE_HOST=0.0.0.0 \
    LENDGATE_PORT=8000 \
    LENDGATE_DATA_DIR=/var/lib/lendgate \
    LENDGATE_AUTHORIZATION_FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
# The key directory is a mount point (a volume, or secrets): a new container reads the keys
# the old one used, or sealed identities become unreadable.
RUN install -d -o lendgate -g lendgate -m 0700 /var/lib/lendgate/keys
USER lendgate
WORKDIR /var/lib/lendgate
# 8000: the gateway; 8101-8104: the source simulators (development only).
EXPOSE 8000 8101 8102 8103 8104
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LENDGATE_PORT', '8000'), timeout=2)"]
CMD ["lendgate", "serve"]

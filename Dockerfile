# One image for every testfleet component: `docker compose` picks the command
# (api, gateway, worker). Browsers are not in it: workers drive the Selenium Grid's
# Chrome nodes (official selenium/node-chrome images) over WebDriver.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY testfleet ./testfleet
COPY api ./api
COPY cli ./cli
COPY workers ./workers
COPY grid ./grid
COPY gateway ./gateway
COPY demosite ./demosite
RUN pip install . && useradd --create-home --uid 10001 testfleet \
    && mkdir -p /data && chown testfleet /data

USER testfleet
# State, and artifacts when TESTFLEET_ARTIFACTS__URL is unset (docker-compose.yml and
# deploy/kubernetes point it at an S3-compatible store instead: no shared volume).
ENV TESTFLEET_PATHS__STATE_DIR=/data/state \
    TESTFLEET_PATHS__ARTIFACTS_DIR=/data/artifacts
ENTRYPOINT ["testfleet"]
CMD ["--help"]

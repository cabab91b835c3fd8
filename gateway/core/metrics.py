"""Prometheus metrics the gateway exports at `/metrics`."""

from prometheus_client import Counter, Histogram

RELEASES = Counter("lendgate_releases_total", "Release attempts by outcome.", ["outcome"])
REQUEST_SECONDS = Histogram(
    "lendgate_request_seconds", "Time to answer a request.", ["method", "route", "status"]
)

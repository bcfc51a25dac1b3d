"""``GET /metrics``: Prometheus text format (prometheus-client), guarded by MPI_METRICS.

Counted per process as requests are served: requests by route (the URL rule, never the raw
path) and status, their latency, and import results per protocol. Read from the database when
scraped (cached for :data:`SCRAPE_CACHE_SECONDS`): the export queue and its failures per
configuration, and the database's and file store's sizes (the storage report /health shows).

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
(wiped before each start): every worker then writes its counts there and any worker's
``/metrics`` adds them all up (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Iterator

from flask import Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from meteorpi_server.admin_api import ADMIN
from meteorpi_server.app import MeteorApp
from meteorpi_server.routing import blueprint
from meteorpi_server.service_api import shared_storage_report

#: How long figures read from the database are reused between scrapes.
SCRAPE_CACHE_SECONDS = 15
#: Import routes whose answers count as import results, by protocol.
IMPORT_ROUTES = {"/import": "v1", "/import/v2/batch": "v2"}


class RequestMetrics:
    """The per-process counters and histograms of one app, and the hooks that update them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("meteorpi_http_requests", "HTTP requests answered, by route (URL rule) "
                                "and status", ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("meteorpi_http_request_duration_seconds", "Time to answer an HTTP "
                                 "request (until the body starts), by route", ["route", "method"],
                                 registry=self.registry)
        self.imports = Counter("meteorpi_imports", "Entities offered to the import API, by "
                               "protocol and result (v1: one per POST /import; v2: one per "
                               "entity of a batch, or one for a batch refused whole)",
                               ["protocol", "result"], registry=self.registry)

    def start(self) -> None:
        g.metrics_started = time.perf_counter()

    def finish(self, response: Response) -> Response:
        started = g.pop("metrics_started", None)
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        self.requests.labels(rule, request.method, str(response.status_code)).inc()
        if started is not None:
            self.latency.labels(rule, request.method).observe(time.perf_counter() - started)
        self._count_imports(rule, response)
        return response

    def observe(self, rule: str, method: str, status: int, seconds: float) -> None:
        """Count an answer given outside Flask's request hooks."""
        self.requests.labels(rule, method, str(status)).inc()
        self.latency.labels(rule, method).observe(seconds)

    def _count_imports(self, rule: str, response: Response) -> None:
        protocol = next((p for route, p in IMPORT_ROUTES.items() if rule.endswith(route)), None)
        if protocol is None or request.method != "POST":
            return
        if protocol == "v2" and response.status_code == 200 and not response.direct_passthrough:
            results = (response.get_json(silent=True) or {}).get("results") or []
            failed = sum(1 for result in results if isinstance(result, dict) and result.get("state") == "failed")
            self.imports.labels(protocol, "accepted").inc(len(results) - failed)
            self.imports.labels(protocol, "rejected").inc(failed)
            return
        self.imports.labels(protocol, "accepted" if response.status_code == 200 else "rejected").inc()


class DatabaseCollector:
    """Export queue and storage figures, read when scraped (cached; see the module docstring)."""

    def __init__(self, meteor_app: MeteorApp) -> None:
        self.db = meteor_app.db
        self.storage = shared_storage_report(meteor_app)
        self.lock = threading.Lock()
        self.cached: tuple[float, list[Any]] | None = None

    def collect(self) -> Iterator[Any]:
        with self.lock:
            if self.cached is None or time.monotonic() >= self.cached[0]:
                self.cached = (time.monotonic() + SCRAPE_CACHE_SECONDS, self._read())
            return iter(self.cached[1])

    def _read(self) -> list[Any]:
        pending = GaugeMetricFamily("meteorpi_export_pending", "Unfinished export tasks on this node, "
                                    "by export configuration", labels=["config_id", "name"])
        failures = GaugeMetricFamily("meteorpi_export_failures", "Consecutive failed attempts of an "
                                     "export configuration (0 once one succeeds)", labels=["config_id", "name"])
        for config in self.db.export_status():
            labels = [config["config_id"].hex, config["name"]]
            pending.add_metric(labels, config["pending"])
            failures.add_metric(labels, config["failure_count"])
        families = [pending, failures]
        database = self.db.database_bytes()
        if database is not None:
            families.append(GaugeMetricFamily("meteorpi_database_bytes", "Size of the database", value=database))
        report = self.storage()
        if report is not None:
            families.append(GaugeMetricFamily("meteorpi_file_store_content_bytes", "Content in the file "
                                              "store (records' sizes, pruned content left out)",
                                              value=report["content_bytes"]))
            disk = report["disk"]
            for name, help_text in (("capacity", "Capacity of the file store's storage"),
                                    ("used", "Used bytes of the file store's storage"),
                                    ("free", "Free bytes of the file store's storage")):
                families.append(GaugeMetricFamily(f"meteorpi_storage_{name}_bytes", help_text, value=disk[name]))
        return families


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Count requests from now on and add ``GET /metrics`` (public or admin per MPI_METRICS)."""
    app = meteor_app.app
    metrics = app.extensions.get("meteorpi_metrics")
    if metrics is None:  # once per app, however many prefixes the service routes are under
        metrics = app.extensions["meteorpi_metrics"] = RequestMetrics()
        app.before_request(metrics.start)
        app.after_request(metrics.finish)
        # searches answered before Flask routes them (search_cache.SearchShortcut)
        app.extensions.setdefault("meteorpi_answer_observers", []).append(metrics.observe)
    # One registry per scrape route: this process's counts (or, in multiprocess mode, every
    # worker's, read from PROMETHEUS_MULTIPROC_DIR) and the database's figures.
    scraped = CollectorRegistry(auto_describe=False)
    multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    scraped.register(MultiProcessCollector(None, multiprocess_dir) if multiprocess_dir else metrics.registry)
    scraped.register(DatabaseCollector(meteor_app))
    bp = blueprint("metrics", url_path)

    def scrape() -> Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encoder(scraped), content_type=content_type, headers={"Cache-Control": "no-store"})

    if meteor_app.settings["MPI_METRICS"] == "admin":
        scrape = meteor_app.requires_auth(roles=ADMIN)(scrape)
    bp.get("/metrics")(scrape)
    app.register_blueprint(bp)

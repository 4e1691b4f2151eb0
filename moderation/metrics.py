"""Prometheus metrics, one registry per app (no process-global state, so tests stay independent)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# The stages of a submission, in order (POST /v1/comments).
STAGES = ("parse", "validate", "normalise", "score", "store", "respond")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "moderation_http_requests_total", "HTTP requests by route, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "moderation_http_request_duration_seconds", "HTTP request latency by route.", ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.decisions = Counter(
            "moderation_decisions_total", "Automatic decisions by outcome.", ["decision"], registry=self.registry
        )
        self.reasons = Counter(
            "moderation_hold_reasons_total", "Reasons given for held comments.", ["reason"], registry=self.registry
        )
        self.classifier_failures = Counter(
            "moderation_classifier_failures_total", "Comments the classifiers could not score.",
            registry=self.registry,
        )
        self.model_info = Gauge(
            "moderation_model_info", "The model version in use (value 1).", ["version"], registry=self.registry
        )
        self.moderator_actions = Counter(
            "moderation_moderator_actions_total", "Moderator actions by action and label.", ["action", "label"],
            registry=self.registry,
        )
        self.overturned = Counter(
            "moderation_overturned_total",
            "Automatic decisions a moderator overturned, by model version and kind.",
            ["model_version", "kind"], registry=self.registry,
        )

        # Where a submission's time goes (bench/throughput.py reads the sums for its per-stage budget).
        self.stage = Histogram(
            "moderation_stage_seconds", "Time per submission in each stage of POST /v1/comments.", ["stage"],
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
            registry=self.registry,
        )
        self.stages = {name: self.stage.labels(stage=name) for name in STAGES}
        self.commit_batch = Histogram(
            "moderation_store_commit_batch_size", "Writes sharing one commit (SQLite group commit).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=self.registry,
        )

        # Scale-out: one model everywhere (moderation.fleet) and database faults (moderation.store.faults).
        self.model_promoted = Gauge(
            "moderation_model_promoted_info", "The version promoted in the database (value 1).", ["version"],
            registry=self.registry,
        )
        self.model_sync_failed = Gauge(
            "moderation_model_sync_failed",
            "1 while this replica cannot load the promoted version and serves an older one.", registry=self.registry,
        )
        self.model_poll_failures = Counter(
            "moderation_model_poll_failures_total", "Polls of the promoted model version that failed.",
            registry=self.registry,
        )
        self.store_unavailable = Counter(
            "moderation_store_unavailable_total",
            "Store calls that failed because the database was unreachable or too slow (answered 503).",
            ["operation"], registry=self.registry,
        )

    def set_promoted(self, version: str | None, sync_failed: bool) -> None:
        self.model_promoted.clear()
        if version:
            self.model_promoted.labels(version=version).set(1)
        self.model_sync_failed.set(1 if sync_failed else 0)

    def set_model(self, version: str | None) -> None:
        self.model_info.clear()
        if version:
            self.model_info.labels(version=version).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)

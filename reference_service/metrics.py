"""Prometheus text exposition, written by hand (a handful of counters does not need a library)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable


def _labels(**labels: str) -> str:
    def esc(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}" if labels else ""


class Metrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.request_seconds: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.bytes_uploaded = 0
        self.bytes_downloaded = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, str(status))] += 1
        self.request_seconds[(method, route)] += seconds

    def render(self, gauges: Iterable[tuple[str, str, float, dict[str, str]]], wal: dict[tuple[str, str], int]) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{name}{_labels(**labels)} {value:g}" for labels, value in samples)

        family(
            "se_http_requests_total",
            "counter",
            "HTTP requests by method, route and status",
            ((dict(method=m, route=r, status=s), n) for (m, r, s), n in sorted(self.requests.items())),
        )
        family(
            "se_http_request_duration_seconds_sum",
            "counter",
            "Time spent answering, by route",
            ((dict(method=m, route=r), v) for (m, r), v in sorted(self.request_seconds.items())),
        )
        family(
            "se_wal_rows",
            "gauge",
            "WAL rows in the database, by operation and status",
            ((dict(operation=o, status=s), n) for (o, s), n in sorted(wal.items())),
        )
        family(
            "se_bytes_uploaded_total",
            "counter",
            "File bytes received by successful uploads",
            [({}, self.bytes_uploaded)],
        )
        family("se_bytes_downloaded_total", "counter", "File bytes sent by downloads",
               [({}, self.bytes_downloaded)])  # fmt: skip
        for name, help_text, value, labels in gauges:
            family(name, "gauge", help_text, [(labels, value)])
        return "\n".join(lines) + "\n"

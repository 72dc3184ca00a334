"""Latency and throughput bookkeeping shared by the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    accepted: int = 0
    rejected: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    notes: str = ""
    # Percentiles measured by an outside tool (wrk, redis-benchmark), used as they are.
    measured: dict[float, float] = field(default_factory=dict)

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected

    def pct(self, p: float) -> float:
        if p in self.measured:
            return self.measured[p]
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def row(self) -> dict[str, object]:
        return {
            "name": self.name,
            "seconds": round(self.seconds, 2),
            "decided": self.decided,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "decided_per_s": round(self.decided / self.seconds) if self.seconds else 0,
            "accepted_per_s": round(self.accepted / self.seconds) if self.seconds else 0,
            "p50_ms": round(self.pct(50), 2),
            "p95_ms": round(self.pct(95), 2),
            "p99_ms": round(self.pct(99), 2),
            "notes": self.notes,
        }


def table(rows: list[dict[str, object]]) -> str:
    cols = [
        "name",
        "decided_per_s",
        "accepted_per_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "decided",
        "accepted",
        "notes",
    ]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)

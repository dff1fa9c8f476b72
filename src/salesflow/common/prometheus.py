"""The Prometheus text exposition format, for the few families salesflow exports (no client library)."""

from __future__ import annotations


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


class MetricsText:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: list[tuple[dict[str, object], float]]) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            self.lines.append(_sample(name, labels, value))

    def histogram(self, name: str, help_text: str, buckets: list[tuple[float, int]], count: int, total: float) -> None:
        """Cumulative ``buckets`` as (upper bound, observations at or below it)."""
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        self.lines += [_sample(f"{name}_bucket", {"le": bound}, n) for bound, n in buckets]
        self.lines += [_sample(f"{name}_bucket", {"le": "+Inf"}, count), f"{name}_sum {total:.6f}",
                       f"{name}_count {count}"]

    def render(self) -> str:
        return "\n".join(self.lines) + "\n"


def _sample(name: str, labels: dict[str, object], value: float) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value}" if inner else f"{name} {value}"

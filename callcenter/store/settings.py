"""[database]: where the record is kept, and how the event log writes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///var/callcenter.db"
    batch_size: int = 1000
    flush_interval: float = 0.2
    buffer_limit: int = 200_000
    retry_min: float = 0.2
    retry_max: float = 5.0
    spool_dir: str = "var/spool"

    def problems(self, prefix: str = "database") -> list[str]:
        out: list[str] = []
        if not self.url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            out.append(
                f"{prefix}.url: must start with sqlite:// or postgresql:// "
                f"(got {self.url.split(':', 1)[0]}://...)"
            )
        for k in ("batch_size", "flush_interval", "buffer_limit", "retry_min", "retry_max"):
            _positive(f"{prefix}.{k}", getattr(self, k), out)
        return out


def _positive(key: str, value: float, problems: list[str]) -> None:
    if value <= 0:
        problems.append(f"{key}: must be greater than 0, got {value}")

"""Records shared by all model loaders."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadReport:
    """What a checkpoint load found: keys the model wanted but the file lacked, and the reverse."""

    source: str
    missing_keys: tuple[str, ...] = ()
    unexpected_keys: tuple[str, ...] = ()
    ignored_keys: tuple[str, ...] = ()  # known extras we deliberately skip (e.g. lm_head, alibi)

    @property
    def clean(self) -> bool:
        return not self.missing_keys and not self.unexpected_keys

    def summary(self) -> str:
        parts = [f"{self.source}:"]
        parts.append(f"{len(self.missing_keys)} missing")
        parts.append(f"{len(self.unexpected_keys)} unexpected")
        parts.append(f"{len(self.ignored_keys)} ignored")
        return " ".join(parts)


@dataclass(frozen=True)
class ModelIdentity:
    """Who a loaded model is: recorded in run metrics and every report.

    ``meaningful`` is False for random-weight presets: their predictions carry no biology.
    """

    role: str  # "dnabert" | "esm" | "classifier"
    name: str  # e.g. "esm2_t36_3B_UR50D", "tiny-esm"
    source: str  # "preset:tiny (seed 0)" or a file path
    n_parameters: int
    hidden_size: int
    meaningful: bool
    checksum: str = ""  # sha256 of the checkpoint file(s) when loaded from disk
    extra: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "role": self.role,
            "name": self.name,
            "source": self.source,
            "n_parameters": self.n_parameters,
            "hidden_size": self.hidden_size,
            "meaningful": self.meaningful,
            "checksum": self.checksum,
            "extra": dict(self.extra),
        }

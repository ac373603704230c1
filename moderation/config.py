"""Service configuration: defaults, then an optional file, then MODERATION_* environment variables."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from moderation.pipeline.domain import parse_attribute_thresholds

PACKAGE_DIR = Path(__file__).resolve().parent


def data_root(package_dir: Path = PACKAGE_DIR) -> Path:
    """Where `model/` and `instance/` live by default: the checkout the package runs from, if it runs
    from one (make run, an editable install), else the working directory.

    An installed package sits in site-packages, a place for code that may not be writable and is not
    where anyone looks for a database or a model.
    """
    checkout = package_dir.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "model").is_dir():
        return checkout
    return Path.cwd()


def _split_list(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        items = value
    else:
        items = value.split(",")
    return tuple(item.strip() for item in items if item and item.strip())


def _parse_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


class ConfigError(ValueError):
    """A configuration value cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment, with the defaults of a one-machine install."""

    database_url: str = ""
    redis_url: str = ""
    model_dir: str = dataclasses.field(default_factory=lambda: str(data_root() / "model"))
    instance_dir: str = dataclasses.field(default_factory=lambda: str(data_root() / "instance"))
    blocked_terms: tuple[str, ...] = ()
    watched_terms: tuple[str, ...] = ()
    blocked_authors: tuple[str, ...] = ()
    max_links: int = 2
    max_text_length: int = 10_000
    # 10,000 characters sent as \\uXXXX surrogate pairs are 120 KB; all fields at most about 180 KB.
    max_body_bytes: int = 192 * 1024
    # How long a client may take to send one request (headers and body) from its first byte.
    request_read_seconds: float = 10.0
    rate_limit: str = "600/minute"
    ip_rate_limit: str = "1200/minute"
    auth_failure_limit: str = "60/minute"
    trusted_proxies: tuple[str, ...] = ()
    # Thresholds travel with the model (its manifest); one set here overrides the model's value.
    # Unset (None), the current model's own threshold applies.
    spam_hold: float | None = None
    spam_reject: float | None = None
    toxicity_hold: float | None = None
    toxicity_reject: float | None = None
    # Per-attribute cut-offs, e.g. "threat:reject=0.8,identity_attack:hold=0.5"; none by default.
    attribute_thresholds: tuple[str, ...] = ()
    flood_seconds: int = 15
    duplicate_seconds: int = 86_400
    min_elapsed_ms: int = 3_000
    trusted_after: int = 1
    hold_new_authors: bool = False
    # What happens to a comment confidently identified as a language the model was not trained on.
    unsupported_language: str = "hold"
    # Reports on texts no stored comment matches (Akismet submit-* without a match, Perspective
    # suggestscore) kept per client key per UTC day; past it they are answered but not stored.
    unverified_labels_per_day: int = 1000
    webhook_url: str = ""
    webhook_secret: str = ""
    coral_secret: str = ""
    secret_key: str = ""
    log_level: str = "INFO"
    # How long a worker trusts a key it has checked before looking it up again: a key revoked or
    # moved to another site from another process (the CLI, another worker) stops working within this.
    key_cache_seconds: float = 5.0

    def __post_init__(self) -> None:
        for head in ("spam", "toxicity"):
            hold, reject = getattr(self, f"{head}_hold"), getattr(self, f"{head}_reject")
            for name, value in (("hold", hold), ("reject", reject)):
                if value is not None and not 0.0 <= value <= 1.0:
                    raise ConfigError(f"{head}_{name} must be between 0 and 1, got {value}")
            if hold is not None and reject is not None and hold > reject:
                raise ConfigError(
                    f"{head} thresholds must satisfy 0 <= hold <= reject <= 1, got {hold} and {reject}"
                )
        try:
            parse_attribute_thresholds(self.attribute_thresholds)
        except ValueError as exc:
            raise ConfigError(f"attribute_thresholds: {exc}") from None
        if self.max_links < 1:
            raise ConfigError("max_links must be at least 1")
        if self.request_read_seconds <= 0:
            raise ConfigError("request_read_seconds must be positive")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(f"trusted_proxies: {proxy!r} is not an IP address or network") from None
        if self.unsupported_language not in ("hold", "approve", "score"):
            raise ConfigError(
                f"unsupported_language must be hold, approve or score, got {self.unsupported_language!r}"
            )
        if self.unverified_labels_per_day < 0:
            raise ConfigError("unverified_labels_per_day must be 0 or more")
        if not 0 <= self.key_cache_seconds <= 60:
            raise ConfigError("key_cache_seconds must be between 0 and 60")
        if self.max_text_length < 1:
            raise ConfigError("max_text_length must be at least 1")

    def threshold_overrides(self) -> dict[str, float]:
        """The thresholds the configuration sets explicitly, by setting name (e.g. spam_hold)."""
        names = ("spam_hold", "spam_reject", "toxicity_hold", "toxicity_reject")
        return {name: float(getattr(self, name)) for name in names if getattr(self, name) is not None}

    @property
    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to a SQLite file in the instance folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.instance_dir) / 'moderation.sqlite3'}"

    @property
    def rate_limit_enabled(self) -> bool:
        return self.rate_limit.strip().lower() != "off"

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings: defaults, the optional MODERATION_CONFIG file, the environment, overrides."""
        environ = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        config_file = environ.get("MODERATION_CONFIG")
        if config_file:
            raw.update(_read_config_file(Path(config_file)))
        for f in fields(cls):
            env_name = f"MODERATION_{f.name.upper()}"
            if env_name in environ:
                raw[f.name] = environ[env_name]
        if overrides:
            raw.update({k.lower(): v for k, v in overrides.items()})
        return cls(**{name: _coerce(name, value) for name, value in raw.items()})

    def public_dict(self) -> dict[str, Any]:
        """Return the settings without secrets, for logs and debugging."""
        data = dataclasses.asdict(self)
        for secret in ("webhook_secret", "secret_key", "coral_secret"):
            if data[secret]:
                data[secret] = "***"
        return data


_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    if name not in _FIELD_TYPES:
        raise ConfigError(f"unknown setting {name!r}")
    kind = _FIELD_TYPES[name]
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "float | None":
            # An empty value (MODERATION_SPAM_HOLD=) means unset: the model's threshold applies.
            return None if value is None or str(value).strip() == "" else float(value)
        if kind == "bool":
            return _parse_bool(value)
        if kind.startswith("tuple"):
            return _split_list(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: {exc}") from exc


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    if path.suffix == ".json":
        data = json.loads(text)
    else:
        data = tomllib.loads(text)
    section = data.get("moderation", data)
    return {str(k).lower(): v for k, v in section.items()}

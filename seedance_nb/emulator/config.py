"""The emulator's settings: :class:`EmulatorConfig` (changed at run time through ``configure``) and its defaults."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..validation import MAX_IMAGE_BYTES
from .render import DEFECTS

__all__ = ["DEFAULT_PROXY_ALLOWED_URLS", "LOOPBACK_HOSTS", "EmulatorConfig"]

#: fal's server proxy (@fal-ai/server-proxy, ``DEFAULT_ALLOWED_URL_PATTERNS``): picomatch globs over
#: ``host + path + query`` of the ``x-fal-target-url``; ``\\?`` is a literal question mark.
DEFAULT_PROXY_ALLOWED_URLS: tuple[str, ...] = (
    "fal.run/**",
    "queue.fal.run/**",
    "rest.fal.ai/storage/upload/initiate\\?storage_type=fal-cdn-v3",
    "rest.fal.ai/storage/upload/complete-multipart\\?storage_type=fal-cdn-v3",
)
#: Hosts whose image URLs the emulator downloads by default: this machine only.
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


def _load_private_key(value: str) -> Ed25519PrivateKey:
    """An ED25519 private key from PEM (PKCS#8) text or 64 hex digits (the 32-byte seed)."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("webhook_private_key must be an ED25519 key")
        return key
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise ValueError("webhook_private_key must be PEM (PKCS#8) or 64 hex digits (an ED25519 seed)")
    return Ed25519PrivateKey.from_private_bytes(seed)


@dataclass
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour; change it at run time with ``configure``."""

    slots: int = 2
    #: Multiplies every latency; 0 makes jobs finish as fast as they render.
    speed: float = 1.0
    #: Seconds a job waits for a runner once it reaches the head of the queue.
    queue_latency: float = 1.0
    #: Seconds to generate a 5 s 720p clip; scales with pixels x seconds.
    generation_time: float = 20.0
    #: When set, every job takes exactly this long (before ``speed``).
    fixed_generation_time: float | None = None
    #: fal keeps a result 1 h after completion ...
    result_ttl: float = 3600.0
    #: ... but only 6 min when the result is 10 KB or larger ...
    large_result_ttl: float = 360.0
    large_result_bytes: int = 10 * 1024
    #: ... and for the storage period when payload storage is on (None: off). ``X-Fal-Store-IO: 0`` opts out.
    payload_storage_ttl: float | None = None
    #: Lifetime of a CDN upload token (its ``expires_at``); an expired token gets 401.
    cdn_token_ttl: float = 3600.0
    #: Multiplies an upload's ``expiration_duration_seconds``, read when the file is fetched (0 expires it now).
    object_ttl_scale: float = 1.0
    #: Hosts whose http(s) image URLs are downloaded; "*" allows any host.
    fetch_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    fetch_timeout: float = 10.0
    fetch_max_bytes: int = MAX_IMAGE_BYTES
    #: ED25519 key that signs webhooks (PEM or 64 hex digits); None: a fresh key per emulator.
    webhook_private_key: str | None = None
    webhook_user_id: str = "emulator-user"
    #: Sign webhooks (fal always does); False sends them unsigned, as the emulator used to.
    webhook_sign: bool = True
    #: Seconds added to the signed timestamp (negative: a stale delivery, to test receivers).
    webhook_timestamp_offset: float = 0.0
    #: Cancel of a queued request: 202 CANCELLATION_REQUESTED (legacy docs) or, when True, 200 OK.
    cancel_queued_ok: bool = False
    #: The server proxy's allow-list (fal's defaults).
    proxy_allowed_urls: tuple[str, ...] = DEFAULT_PROXY_ALLOWED_URLS
    #: The OpenAPI document served for the endpoint; None: the built-in one (fal-js 1.10.1's types).
    openapi: dict[str, Any] | None = None
    #: When set, requests must carry ``Authorization: Key <api_key>``.
    api_key: str | None = field(default=None, repr=False)
    fault_seed: int = 0
    rate_429: float = 0.0
    rate_ingress: float = 0.0
    rate_drop: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 2.0
    rate_moderation: float = 0.0
    #: A prompt containing this word is refused as input moderation (deterministic).
    moderation_word: str = "forbidden"
    #: Status/result URLs that keep the endpoint's subpath answer 404 (True) or work (False).
    strict_subpath: bool = True
    #: "full" renders the model's sizes; "tiny" writes a 64x36 one-second MP4 (for scale tests).
    render: str = "full"
    #: Defects every clip gets, for tests with ground truth: any of frozen, black, cut, silent, short
    #: (a prompt can ask for them too: see seedance_nb.emulator.render.DEFECTS).
    defects: list[str] = field(default_factory=list)
    log_interval: float = 1.0
    webhook_retries: int = 10
    keepalive: float = 15.0

    def update(self, **changes: Any) -> None:
        """Apply ``changes`` all at once, or none of them when one is invalid (ValueError says which)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown emulator option(s) {unknown}; known: {sorted(known)}")
        candidate = replace(self, **changes)
        candidate.validate()
        for f in fields(self):
            setattr(self, f.name, getattr(candidate, f.name))

    def validate(self) -> None:
        """Raise ValueError for an option out of range; normalise list-like options to tuples/lists."""
        if self.slots < 1:
            raise ValueError("slots must be at least 1")
        if self.render not in ("full", "tiny"):
            raise ValueError("render must be 'full' or 'tiny'")
        unknown_defects = sorted(set(self.defects) - set(DEFECTS))
        if isinstance(self.defects, str) or unknown_defects:
            raise ValueError(f"defects must be a list of {sorted(DEFECTS)}; got {self.defects!r}")
        self.defects = list(self.defects)
        if isinstance(self.fetch_hosts, str):
            self.fetch_hosts = (self.fetch_hosts,)
        self.fetch_hosts = tuple(self.fetch_hosts)
        self.proxy_allowed_urls = tuple(self.proxy_allowed_urls)
        if self.webhook_private_key is not None:
            _load_private_key(self.webhook_private_key)
        if self.cdn_token_ttl <= 0 or self.fetch_timeout <= 0:
            raise ValueError("cdn_token_ttl and fetch_timeout must be positive")
        for name in ("rate_429", "rate_ingress", "rate_drop", "rate_slow", "rate_moderation"):
            if not 0.0 <= getattr(self, name) <= 1.0:  # NaN fails it too
                raise ValueError(f"{name} must be a fraction 0..1, got {getattr(self, name)!r}")
        for name in ("speed", "queue_latency", "generation_time", "result_ttl", "large_result_ttl", "slow_seconds"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)!r}")
        if self.fixed_generation_time is not None and not self.fixed_generation_time >= 0:
            raise ValueError(f"fixed_generation_time must be 0 or more, got {self.fixed_generation_time!r}")

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["api_key"] = "***" if self.api_key else None
        out["webhook_private_key"] = "***" if self.webhook_private_key else None
        return out

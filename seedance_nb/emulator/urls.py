"""The emulator's URLs: fal's hosts as path prefixes of one loopback base URL, spelled in one place.

    urls = EmulatorUrls("http://127.0.0.1:8787")
    urls.queue, urls.file("abc")   # 'http://127.0.0.1:8787/queue', 'http://127.0.0.1:8787/cdn/files/abc'

A request's own URLs (result, status, cancel) are :class:`seedance_nb.schema.EndpointId`'s, from ``queue``.
"""

from __future__ import annotations

__all__ = ["EmulatorUrls"]


class EmulatorUrls:
    """fal's hosts as path prefixes of one loopback ``base``: the one place these URLs are spelled."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.queue = f"{base}/queue"  # queue.fal.run
        self.run = f"{base}/run"  # fal.run (the sync route)
        self.rest = f"{base}/rest"  # rest.fal.ai
        self.cdn = f"{base}/cdn"  # v3.fal.media
        self.api = f"{base}/api"  # api.fal.ai (the platform API: request history)
        self.proxy = f"{self.api}/fal/proxy"  # fal's server-proxy route (@fal-ai/server-proxy)
        self.jwks = f"{self.rest}/.well-known/jwks.json"  # the webhook keys (rest.alpha.fal.ai/.well-known/...)
        self.openapi = f"{self.api}/openapi/queue/openapi.json"  # the endpoint's OpenAPI (fal.ai/api/openapi/...)

    def __repr__(self) -> str:
        return f"EmulatorUrls({self.base!r})"

    def file(self, key: str) -> str:
        """The CDN URL of the stored file ``key``."""
        return f"{self.cdn}/files/{key}"

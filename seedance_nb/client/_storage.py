"""The storage side of the client: uploads to fal's CDN (its short-lived token) and video downloads."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import AuthenticationError, ProtocolError, redact
from ._status import parse_time
from ._transport import Transport, _api_error


class Storage(Transport):
    """:class:`Transport` plus fal's CDN: :meth:`upload` and :meth:`download` (see :class:`AsyncClient`)."""

    async def upload(
        self,
        data: bytes,
        content_type: str,
        file_name: str | None = None,
        *,
        lifecycle: Mapping[str, Any] | None = None,
    ) -> str:
        """Store bytes on fal's CDN (a token, then one POST) and return their URL.

        The CDN token is fetched again shortly before it expires (``expires_at``) and once more if the CDN
        refuses it; a refusal after that names the token, not the key.

        Args:
            data: the file's bytes.
            content_type: its MIME type.
            file_name: the name fal keeps for it.
            lifecycle: the object's lifetime (e.g. ``{"expiration_duration_seconds": 86400}``), sent as fal's
                clients send it: ``X-Fal-Object-Lifecycle`` (the header fal's CDN reads on an upload) and
                ``X-Fal-Object-Lifecycle-Preference`` (storage-backed initiation), as fal-client 1.0.3 does.
        """
        headers = {"Content-Type": content_type}
        if file_name:
            headers["X-Fal-File-Name"] = file_name
        if lifecycle is not None:
            value = json.dumps(dict(lifecycle))
            headers["X-Fal-Object-Lifecycle"] = headers["X-Fal-Object-Lifecycle-Preference"] = value
        for attempt in (1, 2):
            auth = await self._cdn_auth(refresh=attempt == 2)
            response = await self.request(
                "POST",
                f"{self.cdn_url}/files/upload",
                content=data,
                headers={**headers, "Authorization": auth},
                auth=False,
                raise_for_status=False,
            )
            if response.status_code not in (401, 403):
                break
            self._cdn_token = None
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"fal's CDN refused the upload token ({response.status_code}) even after a fresh one was fetched; "
                "the API key itself was accepted when the token was issued. Try again later.",
                status_code=response.status_code,
                url=redact(str(response.request.url), self.api_key()),
            )
        if response.status_code not in (200, 201):
            raise _api_error(response, None, self.api_key())
        try:
            access_url = response.json()["access_url"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ProtocolError(f"upload answered without an access_url: {response.text[:200]!r}") from exc
        if not isinstance(access_url, str):
            raise ProtocolError(f"upload answered with an access_url that is not a string: {access_url!r:.200}")
        return access_url

    async def _cdn_auth(self, *, refresh: bool = False) -> str:
        """The CDN token's Authorization value, fetched when missing, expiring within a minute, or refused."""
        token = self._cdn_token
        if refresh or token is None or (token[2] is not None and token[2] - 60 < time.time()):
            response = await self.request(
                "POST", f"{self.rest_url}/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, json={}
            )
            body = response.json()
            expires = parse_time(body.get("expires_at"))
            token = (f"{body['token_type']} {body['token']}", body.get("base_url") or self.cdn_url, expires)
            self._cdn_token = token
        return token[0]

    async def download(self, url: str, dest: str | Path, *, expected_size: int | None = None) -> Path:
        """Stream a file to ``dest`` atomically (see :func:`seedance_nb.media.download`). No key is sent.

        Args:
            url: the file's http(s) URL.
            dest: where to write it.
            expected_size: the size fal announced, checked after the download.
        """
        from ..media import download

        return await download(
            self.http,
            url,
            dest,
            expected_size=expected_size,
            stall_seconds=self.limits.stall_seconds,
            min_bytes=self.limits.min_download_bytes,
        )

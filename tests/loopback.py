"""A Starlette app served by uvicorn on a free 127.0.0.1 port, in a thread, for as long as a ``with`` lasts.

The tests' stand-ins for servers a user runs (a webhook receiver, a hostile host): real HTTP over loopback,
bounded start and stop.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from typing import Any

import av
import numpy as np
import uvicorn


class LoopbackApp:
    """Serve ``app`` on 127.0.0.1 (``base_url``) inside ``with``; subclasses add their routes' state."""

    def __init__(self, app: Any, **config: Any) -> None:
        """``config``: more of uvicorn's options (``timeout_keep_alive``, ``ssl_certfile``, ...)."""
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **config))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, f"{type(self).__name__} did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


def tiny_mp4() -> bytes:
    """A real, small H.264 MP4 (PyAV): what a hostile or fake fal serves as a video."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), i * 30, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()

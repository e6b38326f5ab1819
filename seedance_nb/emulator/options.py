"""The command line of ``seedance-nb emulator`` (and ``python -m seedance_nb.emulator``): one parser, every
value checked as it is read (a rate is a fraction 0..1, a speed or a lifetime is never negative), and the lines
a user copies to point a notebook, ``sd.connect()`` or a shell at the running emulator.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from .._text import checked

__all__ = ["FAULTS", "build_parser", "usage_lines"]

#: The faults ``--rate-NAME`` injects, and what each one is.
FAULTS: dict[str, str] = {
    "429": "submits answered 429 (rate limited)",
    "ingress": "requests answered 502/503 by the gateway",
    "drop": "status/result/file reads whose connection is dropped",
    "slow": "responses delayed by slow_seconds",
    "moderation": "jobs refused by the content checker",
}


def _seconds(flag: str, minimum_exclusive: bool = False) -> Any:
    bound = "more than 0" if minimum_exclusive else "0 or more"
    return checked(
        float,
        lambda v: math.isfinite(v) and (v > 0 if minimum_exclusive else v >= 0),
        f"{flag} takes a number of seconds",
        f"{flag} must be {bound} seconds",
    )


def _cassette(text: str) -> str:
    """``--replay``: a cassette file that exists (its contents are checked when the emulator loads it)."""
    from pathlib import Path

    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(
            f"--replay takes a cassette file (sd.record wrote it), got {text!r}: no such file"
        )
    return text


_PORTS = "--port takes a number 0..65535 (0 picks a free one)"


def _add_faults(parser: argparse.ArgumentParser) -> None:
    """``--rate-NAME`` (a fraction 0..1 of each fault) and ``--fault-seed``."""
    for name, what in FAULTS.items():
        flag = f"--rate-{name}"
        parser.add_argument(
            flag,
            type=checked(
                float,
                lambda v: 0.0 <= v <= 1.0,  # NaN fails it
                f"{flag} takes a fraction 0..1",
                f"{flag} must be a fraction 0..1 (0.1: one in ten)",
            ),
            default=0.0,
            help=f"fraction 0..1 of {what} (default 0)",
        )
    parser.add_argument(
        "--fault-seed",
        type=checked(int, lambda v: True, "--fault-seed takes a whole number", ""),
        default=0,
        help="seed of the random faults the --rate-* options inject: the same seed gives the same faults in the "
        "same order (default 0)",
    )


def build_parser(parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The emulator's argument parser.

    Args:
        parser_class: the parser class (``seedance-nb``'s own turns an error into one line naming the fix).
    """
    parser = parser_class(
        prog="seedance-nb emulator",
        description="Run the fal-compatible emulator in the foreground (Ctrl-C stops it).",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    add("--port", type=checked(int, lambda v: 0 <= v <= 65535, _PORTS, _PORTS), default=8787, help=_PORTS[7:])
    add(
        "--slots",
        type=checked(int, lambda v: v >= 1, "--slots takes a whole number", "--slots must be at least 1"),
        default=2,
        help="jobs that run at once (default 2, like a new fal account)",
    )
    add(
        "--speed",
        type=checked(
            float,
            lambda v: math.isfinite(v) and v >= 0,
            "--speed takes a number",
            "--speed must be 0 or more (1 feels real, 0.1 is ten times faster, 0 is instant)",
        ),
        default=1.0,
        help="latency factor: 1 feels real, 0 is instant (default 1)",
    )
    add(
        "--replay",
        metavar="FILE",
        type=_cassette,
        default=None,
        help="answer the queue routes from a cassette recorded with sd.record (statuses, logs, outputs; "
        "timings scaled by --speed, videos rendered as stand-ins)",
    )
    add("--api-key", default=None, help="require this key (default: accept any)")
    _add_faults(parser)
    add("--result-ttl", type=_seconds("--result-ttl"), default=3600.0, help="seconds results are kept (fal: 1 h)")
    add(
        "--cdn-token-ttl",
        type=_seconds("--cdn-token-ttl", minimum_exclusive=True),
        default=3600.0,
        help="lifetime of a CDN upload token in seconds (default 3600)",
    )
    add(
        "--fetch-host",
        action="append",
        default=None,
        help="a host whose image URLs are downloaded (repeatable; default: loopback only; '*' for any)",
    )
    return parser


def usage_lines(base_url: str) -> list[str]:
    """What to copy to use the emulator at ``base_url``: in a notebook, with ``sd.connect()``, in a shell.

    Args:
        base_url: the emulator's address, ``http://HOST:PORT``.
    """
    return [
        "use it (no FAL_KEY needed, nothing is billed):",
        f"  notebook:  %env SEEDANCE_EMULATOR_URL={base_url}      (then sd.run_sweep(...), the widgets... use it)",
        f'  python:    client = sd.connect("emulator", url="{base_url}")   (pass client= to run_sweep, generate)',
        f"  shell:     export SEEDANCE_EMULATOR_URL={base_url}      (then: seedance-nb sweep --image sample ...)",
    ]

"""``seedance-nb``: the demo sweep, sweeps from the shell, reports, and the emulator.

::

    seedance-nb demo                     # a small sweep on the embedded emulator, with report.html
    seedance-nb sweep --image photo.png --prompt "push in" --prompt "whip pan" --duration 4 8 --seed 1 2 \
        --resolution 480p --aspect-ratio 16:9 1:1
    seedance-nb sweep --image sample --prompt "push in"   # the bundled sample image
    seedance-nb sample-image start.png   # write the bundled sample image to start.png
    seedance-nb report sweeps/demo-...   # (re)write a run folder's report.html
    seedance-nb report RUN_DIR --bundle  # one zip to send: report, videos, posters, journal
    seedance-nb emulator --port 8787     # run the fal-compatible emulator in the foreground
    seedance-nb tutorials [DIR]          # copy the tutorial notebooks into a folder of your own

Exit codes: 0 all jobs finished, 1 some failed (or the service refused, or the cost question was answered
no), 2 a usage error. A usage error is one line on stderr that says what to change, never a traceback. The
summary names the backend (the emulator bills nothing), numbers every job as ``sweep.rate()`` does, and tells
apart prompts that share a long opening.

Money: on fal (FAL_KEY set, no ``--emulator``), a sweep whose estimate may pass ``--confirm-above USD``
(default ``SEEDANCE_CONFIRM_ABOVE``, else $1) prints its itemised estimate and asks "Spend $X on N videos?
[y/N]"; ``--yes`` skips the question, and a stdin that is not a terminal is refused without ``--yes`` (nothing
is sent). The emulator never asks (:mod:`seedance_nb.cli_confirm`).

Paths: ``report --out`` and ``sample-image`` write into a folder that exists; a missing folder is refused
(naming the option), never created on the quiet. ``sweep --out``/``demo --out`` name a new run folder, which
is created.

An emulator started with ``seedance-nb emulator`` prints the lines that point a notebook, ``sd.connect()``
or a shell at it (``SEEDANCE_EMULATOR_URL``); its options are checked as they are read (a ``--rate-*`` is a
fraction 0..1, ``--speed`` and the lifetimes are never negative).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

from ._text import checked
from .errors import InputError, SeedanceError
from .statuses import HAS_VIDEO, JobStatus

__all__ = ["main"]


class UsageError(Exception):
    """A command line that cannot run as written; the message names the fix (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the fix (exit 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument --") and ": --" in message:
            message = message.split(": ", 1)[1]  # our own messages already name the option
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if text.isdigit():
        return int(text)
    return text


def _positive_int(name: str, minimum: int = 1) -> Any:
    return checked(int, lambda v: v >= minimum, f"{name} takes a whole number", f"{name} must be at least {minimum}")


_PORTS = "--port takes a number 0..65535 (0 picks a free one)"
_port = checked(int, lambda v: 0 <= v <= 65535, _PORTS, _PORTS)
_money = checked(
    float,
    lambda v: v >= 0 and v != float("inf"),  # NaN fails the first
    "--budget takes an amount in USD like 10 or 2.50",
    "--budget must be a positive amount in USD",
)


def _fresh_folder(out: str | None, option: str = "--out") -> Path | None:
    if out is None:
        return None
    path = Path(out)
    if (path / "journal.jsonl").exists():
        raise UsageError(
            f"{option} {out} already holds a sweep: pass a new folder, or finish that one in Python with "
            f"sd.Sweep.resume({out!r})"
        )
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {out} is a file: pass a folder for the run")
    return path


def _existing_parent(out: str, option: str) -> Path:
    """``out`` as a path whose folder exists: a missing folder is refused naming ``option``, never created."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise UsageError(f"{option} {out} is a folder: pass a file name in it, e.g. {path / 'report.html'}")
    if not path.parent.is_dir():
        raise UsageError(
            f"{option} {out}: the folder {path.parent} does not exist; create it first (mkdir -p {path.parent}) "
            "or pass a path in a folder that exists"
        )
    return path


def _cell(value: Any, fmt: str = "{:.1f}s") -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return fmt.format(value)


def _summary(sweep: Any) -> str:
    """A table of every job and the totals of this run (pure: tested directly)."""
    from ._text import plural
    from .markup import backend_of, cost_text, distinct_labels, fmt_usd, totals

    df = sweep.df
    backend = backend_of(sweep)
    prompts = distinct_labels(df["prompt"].tolist(), 32)
    lines = [
        f"{'job':>4}  {'status':<10} {'prompt':<32} {'dur':>4} {'seed':>5} {'size':>9} {'queue':>6} "
        f"{'gen':>6} {'cost':>8}  video"
    ]
    for row, prompt in zip(df.itertuples(), prompts, strict=True):
        size = f"{int(row.width)}x{int(row.height)}" if row.width == row.width and row.width else "-"
        path = row.path if isinstance(row.path, str) else (row.error if isinstance(row.error, str) else "")
        if row.status == JobStatus.CACHED:
            cost = "cached"
        elif backend == "emulator":
            cost = "$0"
        else:
            actual = getattr(row, "cost_usd", None)
            if actual is not None and actual == actual:  # what fal billed, where it said so
                cost = fmt_usd(actual)
            else:
                cost = "~" + fmt_usd(row.est_cost_usd) if row.est_cost_usd == row.est_cost_usd else "-"
        seed = "-" if row.seed is None or row.seed != row.seed else str(int(row.seed))
        lines.append(
            f"{'#' + str(row.job):>4}  {row.status:<10} {prompt:<32} {str(row.duration):>4} {seed:>5} {size:>9} "
            f"{_cell(row.queue_seconds):>6} {_cell(row.generation_seconds):>6} {cost:>8}  {path}"
        )
    t = totals(df, backend)
    done = sum(t["by_status"].get(s, 0) for s in HAS_VIDEO)
    wall = f"; wall clock {t['wall_seconds']:.1f}s" if t["wall_seconds"] is not None else ""
    videos = plural(len(df), "video")
    lines.append(f"{done}/{videos} on {backend or 'an unknown backend'}; cost: {cost_text(t)}{wall}")
    return "\n".join(lines)


def _write_report(sweep: Any) -> Path | None:
    try:
        from .reporting import report
    except ImportError:
        return None
    return report(sweep)


def _finish(sweep: Any) -> int:
    print(_summary(sweep))
    path = _write_report(sweep)
    print(f"run folder: {sweep.run_dir}")
    if path:
        print(f"report:     {path}")
        print(f"open it:    {Path(path).resolve().as_uri()}  (in a browser, where the videos play)")
    return 0 if all(j.status in HAS_VIDEO for j in sweep.jobs) else 1


def _demo(args: argparse.Namespace) -> int:
    from .backends import connect
    from .runs import RunFolder
    from .samples import sample_image
    from .sweep import Grid, run_sweep

    out = _fresh_folder(args.out)
    grid = Grid(
        image=sample_image(),
        prompt=["the sun sinks slowly behind the hills", "a gentle breeze ripples the lake"],
        duration=[4, 5],
        seed=[1, 2],
        resolution="480p",
        aspect_ratio="16:9",
    )
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = out or RunFolder.new(f"demo-{stamp}").path
    print(f"demo: {grid.estimate()} on fal; here on the embedded emulator: emulated, nothing billed")
    client = connect("emulator", quiet=True, emulator_config={"slots": 4, "speed": 0.05})
    return _finish(run_sweep(grid, client=client, run_dir=out, concurrency=4))


#: The sweep's own flags for the model's fields: an error about the field names the flag the user wrote.
_FLAGS = {
    "image": "--image",
    "image_url": "--image",
    "prompt": "--prompt",
    "duration": "--duration",
    "seed": "--seed",
    "resolution": "--resolution",
    "aspect_ratio": "--aspect-ratio",
    "takes": "--takes",
}
#: ``--image sample``: the bundled sample image (a file named ``sample`` is ``./sample``).
SAMPLE = "sample"


def _offered_check(flag: str, field: str, values: list[str], endpoint: str) -> None:
    """Refuse (naming ``flag`` and listing the allowed values) what ``endpoint``'s own schema does not offer."""
    from .openapi_schema import load_snapshot

    offered = [str(v) for v in (load_snapshot(endpoint).enum(field) or ())]
    bad = [v for v in values if v not in offered]
    if offered and bad:
        raise UsageError(f"{flag} {bad[0]} is not offered by {endpoint}: pass one of {', '.join(offered)}")


def _grid_inputs(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """The grid's fields from the command line, and the flag each one came from (for error messages)."""
    from .openapi_schema import DEFAULT_ENDPOINT
    from .samples import sample_image

    endpoint = getattr(args, "endpoint", None) or DEFAULT_ENDPOINT
    image = str(sample_image()) if args.image == SAMPLE else args.image
    inputs: dict[str, Any] = {"image": image, "prompt": args.prompt}
    origin = dict(_FLAGS)
    if args.duration:
        inputs["duration"] = [_value(d) for d in args.duration]
    if args.seed:
        inputs["seed"] = args.seed
    for flag, field in (("--resolution", "resolution"), ("--aspect-ratio", "aspect_ratio")):
        values = getattr(args, field)
        if values:
            _offered_check(flag, field, values, endpoint)
            inputs[field] = values
    for item in args.set or []:
        if "=" not in item:
            raise UsageError(f"--set expects FIELD=VALUE (e.g. --set bitrate_mode=high), got {item!r}")
        key, value = item.split("=", 1)
        inputs[key], origin[key] = _value(value), f"--set {key}"
    for item in args.axis or []:
        if "=" not in item:
            raise UsageError(f"--axis expects FIELD=V1,V2,... (e.g. --axis aspect_ratio=16:9,1:1), got {item!r}")
        key, values = item.split("=", 1)
        inputs[key], origin[key] = [_value(v) for v in values.split(",")], f"--axis {key}"
    return inputs, origin


def _grid(args: argparse.Namespace) -> Any:
    """The sweep's grid; an input the model would refuse is an :class:`InputError` naming the flag written."""
    from .errors import Problem
    from .sweep import Grid

    inputs, origin = _grid_inputs(args)
    try:
        return Grid(takes=args.takes, allow_unknown=args.allow_unknown, **inputs)
    except InputError as exc:
        problems = [Problem(origin.get(p.field, p.field), p.message, p.value, p.allowed, p.type) for p in exc.problems]
        raise InputError(problems, context=exc.context) from exc


def _sweep(args: argparse.Namespace) -> int:
    from .backends import connect
    from .cli_confirm import ConfirmationNeeded, confirm_spend, confirm_threshold
    from .sweep import run_sweep

    out = _fresh_folder(args.out)
    grid = _grid(args)
    print(f"sweep: {grid.estimate()}")
    client = connect("emulator" if args.emulator else "auto", quiet=True)
    note = " (emulated, nothing billed)" if client.backend == "emulator" else " (every video is billed)"
    print(f"backend: {client.backend}{note}")
    over_budget = args.budget is not None and grid.estimate().high_usd > args.budget  # refused below, unasked
    if client.backend != "emulator" and not over_budget:
        try:
            if not confirm_spend(grid, threshold=confirm_threshold(args.confirm_above), yes=args.yes):
                return 1
        except ConfirmationNeeded as exc:
            raise UsageError(str(exc)) from None
    return _finish(run_sweep(grid, client=client, run_dir=out, concurrency=args.concurrency, budget_usd=args.budget))


def _report(args: argparse.Namespace) -> int:
    from .reporting import report
    from .sweep import load_sweep

    run_dir = Path(args.run_dir)
    if not (run_dir / "journal.jsonl").is_file():
        raise UsageError(f"{args.run_dir} is not a run folder (no journal.jsonl): pass a folder under sweeps/")
    if args.bundle and args.embed:
        raise UsageError("--bundle and --embed: pick one (a bundle carries the videos as files beside the report)")
    out = _existing_parent(args.out, "--out") if args.out else None
    if args.bundle:
        from .reporting._bundle import bundle_report, send_text

        print(send_text(bundle_report(load_sweep(run_dir), out)))
        return 0
    path = report(load_sweep(run_dir), out, embed=args.embed)
    print(path)
    print(f"open it: {path.resolve().as_uri()}  (in a browser, where the videos play)")
    return 0


def _sample_image(args: argparse.Namespace) -> int:
    import shutil

    from .samples import sample_image

    path = Path(args.path).expanduser()
    if path.is_dir():
        path = path / sample_image().name
    if path.exists():
        raise UsageError(f"{path} already exists: pass a new file name (nothing was overwritten)")
    path = _existing_parent(str(path), "PATH")
    shutil.copyfile(sample_image(), path)
    print(path)
    print(f'try it:  seedance-nb sweep --image {path} --prompt "the sun sinks slowly behind the hills"')
    return 0


def _emulator(argv: list[str]) -> int:
    """``seedance-nb emulator ...``: the emulator's own parser (one definition), with one-line usage errors."""
    from .emulator import run
    from .emulator.options import build_parser

    args = build_parser(_Parser).parse_args(argv)
    try:
        return run(args)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}): pick another port with --port N "
            "(0 picks a free one)"
        ) from exc


def _canary(args: argparse.Namespace) -> int:
    """``seedance-nb canary``: the cost question (always asked: it is a real job; ``--yes`` skips it), then the
    canary (:mod:`seedance_nb.cassettes.canary`)."""
    from .cassettes.canary import run
    from .cli_confirm import ConfirmationNeeded, confirm_spend

    def confirm(grid: Any) -> bool:
        try:
            return confirm_spend(grid, threshold=0.0, yes=args.yes)
        except ConfirmationNeeded as exc:
            raise UsageError(str(exc)) from None

    return run(args, confirm=confirm)


def _usd_flag(flag: str) -> Callable[[str], Any]:
    return checked(
        float,
        lambda v: v >= 0 and v != float("inf"),  # NaN fails the first
        f"{flag} takes an amount in USD like 10 or 2.50",
        f"{flag} must be a positive amount in USD",
    )


def _sweep_parser(sub: Any) -> None:
    sweep = sub.add_parser("sweep", help="run a sweep over prompts, durations, seeds and any other input")
    sweep.add_argument(
        "--image", required=True, help="start image: a path, an http(s) URL, or 'sample' (the bundled image)"
    )
    sweep.add_argument("--prompt", action="append", required=True, help="a prompt (repeat for several)")
    sweep.add_argument("--duration", nargs="+", help="durations: auto or 4..15 (several make an axis)")
    sweep.add_argument("--seed", nargs="+", type=_positive_int("--seed", 0), help="seeds (several make an axis)")
    sweep.add_argument(
        "--resolution", nargs="+", help="480p or 720p, as the endpoint offers (several make an axis; default 720p)"
    )
    sweep.add_argument(
        "--aspect-ratio",
        nargs="+",
        help="auto (follows the image), 21:9, 16:9, 4:3, 1:1, 3:4 or 9:16, as the endpoint offers "
        "(several make an axis; default auto)",
    )
    sweep.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a fixed input, e.g. bitrate_mode=high")
    sweep.add_argument(
        "--axis", action="append", metavar="FIELD=V1,V2", help="another axis, e.g. generate_audio=true,false"
    )
    sweep.add_argument("--takes", type=_positive_int("--takes"), default=1, help="videos per combination (default 1)")
    sweep.add_argument(
        "--concurrency", type=_positive_int("--concurrency"), default=4, help="jobs in flight at once (default 4)"
    )
    sweep.add_argument("--budget", type=_money, default=None, help="refuse to start above this many USD")
    sweep.add_argument(
        "--confirm-above",
        type=_usd_flag("--confirm-above"),
        default=None,
        metavar="USD",
        help="on fal, show the estimate and ask before a sweep that may cost more than this "
        "(default $SEEDANCE_CONFIRM_ABOVE, else 1; 0 always asks)",
    )
    sweep.add_argument("--yes", "-y", action="store_true", help="spend without asking (scripts, CI)")
    sweep.add_argument("--out", default=None, help="run folder (default sweeps/sweep-<time>); must be new")
    sweep.add_argument("--emulator", action="store_true", help="use the embedded emulator even if FAL_KEY is set")
    sweep.add_argument(
        "--allow-unknown",
        action="store_true",
        help="send --set/--axis fields fal's schema does not list (with a warning) instead of refusing them",
    )


def _parser() -> _Parser:
    parser = _Parser(prog="seedance-nb", description="Seedance 2.0 fast sweeps on fal or the emulator")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = sub.add_parser("demo", help="run a small sweep on the embedded emulator and write its report")
    demo.add_argument("--out", help="run folder (default sweeps/demo-<time>)")
    _sweep_parser(sub)
    rep = sub.add_parser("report", help="write a run folder's HTML report")
    rep.add_argument("run_dir", help="the sweep's run folder")
    rep.add_argument("--out", default=None, help="report path, in a folder that exists (default RUN_DIR/report.html)")
    rep.add_argument("--embed", action="store_true", help="embed the videos (one portable file)")
    rep.add_argument(
        "--bundle", action="store_true", help="write one zip to send: the report, videos, posters and journal"
    )
    sample = sub.add_parser("sample-image", help="write the bundled sample image (a 768x432 PNG) to PATH")
    sample.add_argument("path", metavar="PATH", help="a new file (or a folder: PATH/sample.png)")
    # Only listed here: `seedance-nb emulator ...` is read by the emulator's own parser (see main).
    sub.add_parser(
        "emulator", help="run the fal-compatible emulator in the foreground (Ctrl-C stops it)", add_help=False
    )
    from .catalogs.cli import add_subcommands as add_catalog_subcommands  # catalog, recover (seedance_nb.catalogs)

    add_catalog_subcommands(sub)
    from .tutorials import add_subcommand as add_tutorials_subcommand  # tutorials (seedance_nb.tutorials)

    add_tutorials_subcommand(sub)
    from .cassettes.canary import add_subcommand as add_canary_subcommand  # canary (seedance_nb.cassettes)

    add_canary_subcommand(sub)
    return parser


def _dispatch(argv: list[str]) -> int:
    if argv[:1] == ["emulator"]:
        return _emulator(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "sample-image":
        return _sample_image(args)
    if args.command == "tutorials":
        from .tutorials import run as run_tutorials

        return run_tutorials(args)
    if args.command == "canary":
        return _canary(args)
    if args.command in ("catalog", "recover"):
        from .catalogs.cli import run as run_catalog

        return run_catalog(args)
    return _report(args)


def main(argv: list[str] | None = None) -> int:
    """``seedance-nb``: run one command line; returns the exit code (0 done, 1 failed or declined, 2 usage).

    Args:
        argv: the arguments after the program name (default ``sys.argv[1:]``).
    """
    try:
        return _dispatch(sys.argv[1:] if argv is None else list(argv))
    except UsageError as exc:
        print(f"seedance-nb: error: {exc}", file=sys.stderr)
        return 2
    except InputError as exc:  # bad input: nothing was sent
        print(f"seedance-nb: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"seedance-nb: error: {exc}", file=sys.stderr)
        return 2
    except SeedanceError as exc:
        print(f"seedance-nb: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``seedance-nb``: the demo sweep, sweeps from the shell, reports, and the emulator.

::

    seedance-nb demo                     # a small sweep on the embedded emulator, with report.html
    seedance-nb sweep --image photo.png --prompt "push in" --prompt "whip pan" --duration 4 8 --seed 1 2
    seedance-nb report sweeps/demo-...   # (re)write a run folder's report.html
    seedance-nb report RUN_DIR --bundle  # one zip to send: report, videos, posters, journal
    seedance-nb emulator --port 8787     # run the fal-compatible emulator in the foreground
    seedance-nb tutorials [DIR]          # copy the tutorial notebooks into a folder of your own

Exit codes: 0 all jobs finished, 1 some failed (or the service refused), 2 a usage error. A usage error is
one line on stderr that says what to change, never a traceback. The summary names the backend (the emulator
bills nothing), numbers every job as ``sweep.rate()`` does, and tells apart prompts that share a long opening.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

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


def _checked(
    convert: Callable[[str], Any], fits: Callable[[Any], bool], wrong: str, outside: str
) -> Callable[[str], Any]:
    """An argparse ``type``: ``convert(text)``, refused with ``wrong`` when it does not convert and with
    ``outside`` when the value does not ``fit`` (each followed by what was given)."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{wrong}, got {text!r}") from None
        if not fits(value):
            raise argparse.ArgumentTypeError(f"{outside}, got {text}")
        return value

    return parse


def _positive_int(name: str, minimum: int = 1) -> Any:
    return _checked(int, lambda v: v >= minimum, f"{name} takes a whole number", f"{name} must be at least {minimum}")


_PORTS = "--port takes a number 0..65535 (0 picks a free one)"
_port = _checked(int, lambda v: 0 <= v <= 65535, _PORTS, _PORTS)
_money = _checked(
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


def _cell(value: Any, fmt: str = "{:.1f}s") -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return fmt.format(value)


def _summary(sweep: Any) -> str:
    """A table of every job and the totals of this run (pure: tested directly)."""
    from .markup import backend_of, cost_text, distinct_labels, totals

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
                cost = "$" + format(actual, ".3f")
            else:
                cost = "~$" + format(row.est_cost_usd, ".3f") if row.est_cost_usd == row.est_cost_usd else "-"
        seed = "-" if row.seed is None or row.seed != row.seed else str(int(row.seed))
        lines.append(
            f"{'#' + str(row.job):>4}  {row.status:<10} {prompt:<32} {str(row.duration):>4} {seed:>5} {size:>9} "
            f"{_cell(row.queue_seconds):>6} {_cell(row.generation_seconds):>6} {cost:>8}  {path}"
        )
    t = totals(df, backend)
    done = sum(t["by_status"].get(s, 0) for s in HAS_VIDEO)
    wall = f"; wall clock {t['wall_seconds']:.1f}s" if t["wall_seconds"] is not None else ""
    lines.append(f"{done}/{len(df)} videos on {backend or 'an unknown backend'}; cost: {cost_text(t)}{wall}")
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


def _sweep(args: argparse.Namespace) -> int:
    from .backends import connect
    from .sweep import Grid, run_sweep

    out = _fresh_folder(args.out)
    inputs: dict[str, Any] = {"image": args.image, "prompt": args.prompt}
    if args.duration:
        inputs["duration"] = [_value(d) for d in args.duration]
    if args.seed:
        inputs["seed"] = args.seed
    for item in args.set or []:
        if "=" not in item:
            raise UsageError(f"--set expects FIELD=VALUE (e.g. --set resolution=480p), got {item!r}")
        key, value = item.split("=", 1)
        inputs[key] = _value(value)
    for item in args.axis or []:
        if "=" not in item:
            raise UsageError(f"--axis expects FIELD=V1,V2,... (e.g. --axis aspect_ratio=16:9,1:1), got {item!r}")
        key, values = item.split("=", 1)
        inputs[key] = [_value(v) for v in values.split(",")]
    grid = Grid(takes=args.takes, allow_unknown=args.allow_unknown, **inputs)
    print(f"sweep: {grid.estimate()}")
    client = connect("emulator" if args.emulator else "auto", quiet=True)
    note = " (emulated, nothing billed)" if client.backend == "emulator" else " (every video is billed)"
    print(f"backend: {client.backend}{note}")
    return _finish(run_sweep(grid, client=client, run_dir=out, concurrency=args.concurrency, budget_usd=args.budget))


def _report(args: argparse.Namespace) -> int:
    from .reporting import report
    from .sweep import load_sweep

    run_dir = Path(args.run_dir)
    if not (run_dir / "journal.jsonl").is_file():
        raise UsageError(f"{args.run_dir} is not a run folder (no journal.jsonl): pass a folder under sweeps/")
    if args.bundle:
        from .reporting._bundle import bundle_report, send_text

        print(send_text(bundle_report(load_sweep(run_dir), args.out)))
        return 0
    path = report(load_sweep(run_dir), args.out, embed=args.embed)
    print(path)
    print(f"open it: {path.resolve().as_uri()}  (in a browser, where the videos play)")
    return 0


def _emulator(args: argparse.Namespace) -> int:
    from .emulator import main as emulator_main

    argv = ["--host", args.host, "--port", str(args.port), "--slots", str(args.slots), "--speed", str(args.speed)]
    if args.api_key:
        argv += ["--api-key", args.api_key]
    for name in ("429", "ingress", "drop", "slow", "moderation"):
        argv += [f"--rate-{name}", str(getattr(args, f"rate_{name.replace('-', '_')}"))]
    argv += ["--fault-seed", str(args.fault_seed)]
    try:
        return emulator_main(argv)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}): pick another port with --port N "
            "(0 picks a free one)"
        ) from exc


def _parser() -> _Parser:
    parser = _Parser(prog="seedance-nb", description="Seedance 2.0 fast sweeps on fal or the emulator")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = sub.add_parser("demo", help="run a small sweep on the embedded emulator and write its report")
    demo.add_argument("--out", help="run folder (default sweeps/demo-<time>)")
    sweep = sub.add_parser("sweep", help="run a sweep over prompts, durations, seeds and any other input")
    sweep.add_argument("--image", required=True, help="start image: a path or an http(s) URL")
    sweep.add_argument("--prompt", action="append", required=True, help="a prompt (repeat for several)")
    sweep.add_argument("--duration", nargs="+", help="durations: auto or 4..15 (several make an axis)")
    sweep.add_argument("--seed", nargs="+", type=_positive_int("--seed", 0), help="seeds (several make an axis)")
    sweep.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a fixed input, e.g. resolution=480p")
    sweep.add_argument(
        "--axis", action="append", metavar="FIELD=V1,V2", help="another axis, e.g. aspect_ratio=16:9,1:1"
    )
    sweep.add_argument("--takes", type=_positive_int("--takes"), default=1, help="videos per combination (default 1)")
    sweep.add_argument(
        "--concurrency", type=_positive_int("--concurrency"), default=4, help="jobs in flight at once (default 4)"
    )
    sweep.add_argument("--budget", type=_money, default=None, help="refuse to start above this many USD")
    sweep.add_argument("--out", default=None, help="run folder (default sweeps/sweep-<time>); must be new")
    sweep.add_argument("--emulator", action="store_true", help="use the embedded emulator even if FAL_KEY is set")
    sweep.add_argument(
        "--allow-unknown",
        action="store_true",
        help="send --set/--axis fields fal's schema does not list (with a warning) instead of refusing them",
    )
    rep = sub.add_parser("report", help="write a run folder's HTML report")
    rep.add_argument("run_dir", help="the sweep's run folder")
    rep.add_argument("--out", default=None, help="report path (default RUN_DIR/report.html)")
    rep.add_argument("--embed", action="store_true", help="embed the videos (one portable file)")
    rep.add_argument(
        "--bundle", action="store_true", help="write one zip to send: the report, videos, posters and journal"
    )
    emu = sub.add_parser("emulator", help="run the fal-compatible emulator in the foreground (Ctrl-C stops it)")
    emu.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    emu.add_argument("--port", type=_port, default=8787, help="port (default 8787; 0 picks a free one)")
    emu.add_argument("--slots", type=_positive_int("--slots"), default=2, help="jobs that run at once (default 2)")
    emu.add_argument("--speed", type=float, default=1.0, help="latency factor: 1 feels real, 0 is instant")
    emu.add_argument("--api-key", default=None, help="require this key (default: accept any)")
    for name in ("429", "ingress", "drop", "slow", "moderation"):
        emu.add_argument(f"--rate-{name}", type=float, default=0.0, help=f"fraction of {name} faults")
    emu.add_argument("--fault-seed", type=int, default=0)
    from .catalogs.cli import add_subcommands as add_catalog_subcommands  # catalog, recover (seedance_nb.catalogs)

    add_catalog_subcommands(sub)
    from .tutorials import add_subcommand as add_tutorials_subcommand  # tutorials (seedance_nb.tutorials)

    add_tutorials_subcommand(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "demo":
            return _demo(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "emulator":
            return _emulator(args)
        if args.command == "tutorials":
            from .tutorials import run as run_tutorials

            return run_tutorials(args)
        if args.command in ("catalog", "recover"):
            from .catalogs.cli import run as run_catalog

            return run_catalog(args)
        return _report(args)
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

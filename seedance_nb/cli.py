"""``seedance-nb``: the demo sweep, sweeps from the shell, reports, and the emulator.

::

    seedance-nb demo                     # a small sweep on the embedded emulator, with report.html
    seedance-nb sweep --image cat.png --prompt "push in" --prompt "whip pan" --duration 4 8 --seed 1 2
    seedance-nb report sweeps/demo-...   # (re)write a run folder's report.html
    seedance-nb emulator --port 8787     # run the fal-compatible emulator in the foreground

Exit codes: 0 all jobs finished, 1 some failed, 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import SeedanceError

__all__ = ["main"]


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if text.isdigit():
        return int(text)
    return text


def _summary(sweep: Any) -> str:
    df = sweep.df
    lines = [
        f"{'job':>3}  {'status':<10} {'prompt':<28} {'dur':>4} {'seed':>5} {'size':>9} {'queue':>6} "
        f"{'gen':>6} {'cost':>7}  video"
    ]
    for row in df.itertuples():
        size = f"{int(row.width)}x{int(row.height)}" if row.width == row.width and row.width else "-"
        q = (
            f"{row.queue_seconds:.1f}s"
            if row.queue_seconds == row.queue_seconds and row.queue_seconds is not None
            else "-"
        )
        g = (
            f"{row.generation_seconds:.1f}s"
            if row.generation_seconds == row.generation_seconds and row.generation_seconds is not None
            else "-"
        )
        path = row.path if isinstance(row.path, str) else (row.error or "")
        prompt = row.prompt if len(row.prompt) <= 28 else row.prompt[:25] + "..."
        lines.append(
            f"{row.job:>3}  {row.status:<10} {prompt:<28} {row.duration:>4} {str(row.seed):>5} {size:>9} "
            f"{q:>6} {g:>6} {'$' + format(row.est_cost_usd, '.3f'):>7}  {path}"
        )
    done = df["status"].isin(["completed", "cached"])
    lines.append(
        f"{int(done.sum())}/{len(df)} videos; estimated cost of the completed ones "
        f"${df.loc[df['status'] == 'completed', 'est_cost_usd'].sum():.2f} (cached: no charge)"
    )
    return "\n".join(lines)


def _write_report(sweep: Any) -> Path | None:
    try:
        from .report import report
    except ImportError:
        return None
    return report(sweep)


def _finish(sweep: Any) -> int:
    print(_summary(sweep))
    path = _write_report(sweep)
    print(f"run folder: {sweep.run_dir}")
    if path:
        print(f"report:     {path}")
    return 0 if all(j.status in ("completed", "cached") for j in sweep.jobs) else 1


def _demo(args: argparse.Namespace) -> int:
    from .connect import connect
    from .generate import SAMPLE_IMAGE
    from .sweep import Grid, run_sweep

    grid = Grid(
        image=SAMPLE_IMAGE,
        prompt=["the sun sinks slowly behind the hills", "a gentle breeze ripples the lake"],
        duration=[4, 5],
        seed=[1, 2],
        resolution="480p",
        aspect_ratio="16:9",
    )
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("sweeps") / f"demo-{stamp}"
    print(f"demo: {grid.estimate()} on the embedded emulator (nothing is billed)")
    client = connect("emulator", quiet=True, emulator_config={"slots": 4, "speed": 0.05})
    return _finish(run_sweep(grid, client=client, run_dir=out, concurrency=4))


def _sweep(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .connect import connect
    from .sweep import Grid, run_sweep

    inputs: dict[str, Any] = {"image": args.image, "prompt": args.prompt}
    if args.duration:
        inputs["duration"] = [_value(d) for d in args.duration]
    if args.seed:
        inputs["seed"] = [int(s) for s in args.seed]
    for item in args.set or []:
        if "=" not in item:
            parser.error(f"--set expects FIELD=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        inputs[key] = _value(value)
    for item in args.axis or []:
        if "=" not in item:
            parser.error(f"--axis expects FIELD=V1,V2,..., got {item!r}")
        key, values = item.split("=", 1)
        inputs[key] = [_value(v) for v in values.split(",")]
    grid = Grid(takes=args.takes, **inputs)
    print(f"sweep: {grid.estimate()}")
    client = connect("emulator" if args.emulator else "auto", quiet=True)
    print(f"backend: {client.backend}")
    return _finish(
        run_sweep(grid, client=client, run_dir=args.out, concurrency=args.concurrency, budget_usd=args.budget)
    )


def _report(args: argparse.Namespace) -> int:
    from .report import report
    from .sweep import load_sweep

    sweep = load_sweep(args.run_dir)
    print(report(sweep, args.out, embed=args.embed))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seedance-nb", description="Seedance 2.0 fast sweeps on fal or the emulator")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a small sweep on the embedded emulator and write its report")
    demo.add_argument("--out", help="run folder (default sweeps/demo-<time>)")
    sweep = sub.add_parser("sweep", help="run a sweep over prompts, durations, seeds and any other input")
    sweep.add_argument("--image", required=True, help="start image: a path or an http(s) URL")
    sweep.add_argument("--prompt", action="append", required=True, help="a prompt (repeat for several)")
    sweep.add_argument("--duration", nargs="+", help="durations: auto or 4..15 (several make an axis)")
    sweep.add_argument("--seed", nargs="+", help="seeds (several make an axis)")
    sweep.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a fixed input, e.g. resolution=480p")
    sweep.add_argument(
        "--axis", action="append", metavar="FIELD=V1,V2", help="another axis, e.g. aspect_ratio=16:9,1:1"
    )
    sweep.add_argument("--takes", type=int, default=1, help="videos per combination (default 1)")
    sweep.add_argument("--concurrency", type=int, default=4, help="jobs in flight at once (default 4)")
    sweep.add_argument("--budget", type=float, default=None, help="refuse to start above this many USD")
    sweep.add_argument("--out", default=None, help="run folder (default sweeps/sweep-<time>)")
    sweep.add_argument("--emulator", action="store_true", help="use the embedded emulator even if FAL_KEY is set")
    rep = sub.add_parser("report", help="write a run folder's HTML report")
    rep.add_argument("run_dir", help="the sweep's run folder")
    rep.add_argument("--out", default=None, help="report path (default RUN_DIR/report.html)")
    rep.add_argument("--embed", action="store_true", help="embed the videos (one portable file)")
    from .catalog.cli import add_subcommands as add_catalog_subcommands  # catalog, recover (seedance_nb.catalog)

    add_catalog_subcommands(sub)
    emu = sub.add_parser("emulator", help="run the fal-compatible emulator", add_help=False)
    emu.add_argument("rest", nargs=argparse.REMAINDER)
    args, extra = parser.parse_known_args(argv)
    if args.command == "emulator":
        from .emulator import main as emulator_main

        return emulator_main(list(args.rest) + extra)
    if extra:
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "sweep":
            return _sweep(args, sweep)
        if args.command in ("catalog", "recover"):
            from .catalog.cli import run as run_catalog

            return run_catalog(args)
        return _report(args)
    except SeedanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``seedance-nb catalog`` and ``seedance-nb recover`` (registered by :mod:`seedance_nb.cli`).

::

    seedance-nb catalog search orbit --rating-min 4 --since 2026-11-01
    seedance-nb catalog spend --by month
    seedance-nb catalog budget 20 --per day       # or: seedance-nb catalog budget (shows the caps)
    seedance-nb catalog rebuild                   # forget and re-index every journal under the root
    seedance-nb recover --since 2026-11-24        # download paid results no journal holds
"""

from __future__ import annotations

import argparse
from typing import Any

COMMANDS = ("catalog", "recover")


def add_subcommands(sub: Any) -> None:
    cat = sub.add_parser("catalog", help="search every run's jobs, the spend ledger, budgets, rebuild")
    cat.add_argument("--root", default=None, help="the sweeps root (default $SEEDANCE_RUNS or sweeps)")
    cat.add_argument("--url", default=None, help="the catalog database (default $SEEDANCE_CATALOG_URL or SQLite)")
    actions = cat.add_subparsers(dest="catalog_command", required=True)
    find = actions.add_parser("search", help="jobs whose prompt has every word given")
    find.add_argument("words", nargs="*", help="words of the prompt (prefixes match: orbit finds orbiting)")
    find.add_argument("--rating-min", type=int, default=None, help="at least this many stars (1-5)")
    find.add_argument("--since", default=None, help="at or after this date/time (ISO, UTC)")
    find.add_argument("--until", default=None, help="before this date/time (ISO, UTC)")
    find.add_argument("--status", default=None, help="only jobs with this status, e.g. completed")
    find.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    money = actions.add_parser("spend", help="what was paid, per day, month, user or sweep")
    money.add_argument("--by", default="day", choices=["day", "month", "user", "sweep"])
    money.add_argument("--since", default=None)
    money.add_argument("--until", default=None)
    money.add_argument(
        "--emulated", action="store_true", help="the rehearsal ledger: emulated jobs at what they would cost on fal"
    )
    budget = actions.add_parser("budget", help="show the caps, or set one (refuses sweeps that would cross it)")
    budget.add_argument("usd", nargs="?", default=None, help="the cap in USD, or 'none' to remove it")
    budget.add_argument("--per", default="day", choices=["day", "month"])
    actions.add_parser("rebuild", help="re-index every journal under the root")
    rec = sub.add_parser("recover", help="download completed requests from fal's history that no journal holds")
    rec.add_argument("--since", default=None, help="from this date/time (ISO, UTC; default 24 hours ago)")
    rec.add_argument("--root", default=None, help="the sweeps root (default $SEEDANCE_RUNS or sweeps)")
    rec.add_argument("--url", default=None, help="the catalog database (default $SEEDANCE_CATALOG_URL or SQLite)")
    rec.add_argument("--emulator", action="store_true", help="ask the embedded emulator (tests, demos)")


def _table(df: Any, columns: list[str]) -> str:
    import pandas as pd

    with pd.option_context("display.max_colwidth", 48, "display.width", 200):
        return df[columns].to_string(index=False) if len(df) else "(nothing)"


def _readable(hits: Any) -> Any:
    """Search hits as a person reads them: times to the minute (UTC), no rating as "-"."""
    import pandas as pd

    shown = hits.copy()
    if len(shown):
        shown["completed_at"] = [
            "-" if pd.isna(t) else pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") for t in shown["completed_at"]
        ]
        shown["rating"] = ["-" if pd.isna(r) else str(int(r)) for r in shown["rating"]]
    return shown


def _usd(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        from ..errors import InputError, Problem

        raise InputError(
            [Problem("usd", "is not an amount in USD", text, "e.g. 20 or 2.50, or 'none' to remove the cap")]
        ) from None


def _recover(args: argparse.Namespace, cat: Any) -> int:
    """``seedance-nb recover``: what the history held, what was recovered, what failed or expires soon."""
    from .._text import plural
    from ..backends import connect
    from ._recover import recover

    client = connect("emulator" if args.emulator else "auto", quiet=True)
    found = recover(args.since, client=client, catalog=cat)
    where = "fal" if client.backend == "fal" else "the emulator"
    print(
        f"{plural(len(found.requests), 'request')} in {where}'s history, "
        f"{int(found.requests['in_journal'].sum())} already journalled, {len(found.recovered)} recovered into "
        f"{found.run_dir}"
    )
    for rid, why in found.failed.items():
        print(f"  not recovered {rid}: {why}")
    if found.expiring is not None and len(found.expiring):
        print(f"{plural(len(found.expiring), 'catalogued video')} with no local copy, expiring soon:")
        print(_table(found.expiring, ["run_name", "job", "request_id", "expires_at", "video_url"]))
    return 1 if found.failed else 0


def run(args: argparse.Namespace) -> int:
    """Run ``seedance-nb catalog ...`` or ``seedance-nb recover``; returns the exit code.

    Args:
        args: the parsed command line.
    """
    from .._text import plural
    from ._core import open_catalog

    if args.command == "recover" and not args.emulator:
        from ._recover import refuse_without_key

        refuse_without_key("--emulator")  # before anything is opened: fal is not asked without a key
    cat = open_catalog(args.url, root=args.root)
    if args.command == "recover":
        return _recover(args, cat)
    action = args.catalog_command
    if action == "search":
        hits = cat.search(
            " ".join(args.words) or None,
            rating_min=args.rating_min,
            since=args.since,
            until=args.until,
            limit=args.limit,
            **({"status": args.status} if args.status else {}),
        )
        print(_table(_readable(hits), ["run_name", "job", "status", "rating", "prompt", "completed_at", "path"]))
        return 0
    if action == "spend":
        ledger = cat.spend(args.by, since=args.since, until=args.until, emulated=args.emulated)
        shown = ledger.copy()
        for column in ("actual_usd", "estimated_usd", "total_usd"):
            shown[column] = [f"${usd:,.2f}" for usd in shown[column]]  # money: dollars and cents
        print(_table(shown, list(shown.columns)))
        print(ledger.attrs["note"])
        return 0
    if action == "budget":
        if args.usd is not None:
            cat.set_budget(_usd(args.usd), per=args.per)
        caps = cat.budgets()
        for period in ("day", "month"):
            spent = cat.spent(period)
            cap = f"${caps[period]:.2f}" if period in caps else "none"
            print(
                f"{period:<5} cap {cap:>9}  spent ${spent['actual_usd'] + spent['estimated_usd']:.2f} "
                f"(${spent['actual_usd']:.2f} from fal, ${spent['estimated_usd']:.2f} estimated), "
                f"${spent['reserved_usd']:.2f} reserved by running sweeps"
            )
        return 0
    jobs = cat.rebuild()
    print(f"re-indexed {plural(jobs, 'job')} under {cat.root}")
    return 0

"""A storyboard's report: one HTML page with the tree, each branch's chosen path, the film and the cost.

The page is self-contained apart from the videos (posters are embedded; the film and the takes are linked
relative to the page, so the folder can be moved or zipped whole).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from ..markup import CSS, esc

__all__ = ["write_report"]


def _rel(target: str | Path, page: Path) -> str:
    try:
        return Path(os.path.relpath(Path(target).resolve(), page.parent.resolve())).as_posix()
    except ValueError:  # another drive
        return Path(target).resolve().as_uri()


def _poster(path: Any) -> str:
    if not isinstance(path, str) or not Path(path).is_file():
        return ""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/jpeg;base64,{data}" width="160" alt="">'


def _branch_html(board: Any, index: int, tip: str, page: Path) -> str:
    takes = board.chosen(branch=tip)
    rows = "".join(
        f"<tr><td>{t['shot']}</td><td>{esc(str(t['prompt']))}</td><td>#{t['job']}</td>"
        f'<td>{_poster(t.get("poster"))}</td><td><a href="{esc(_rel(t["path"], page))}">video</a></td></tr>'
        for t in takes
    )
    current = " (current)" if tip == board.branch else ""
    cost = board.cost(tip, everything=False)
    return (
        f'<h3 class="sd-branch">Branch {index}: {esc(tip)}{current}</h3>'
        f"<p>{len(takes)} of {len(board)} shots chosen; its shot runs cost ${cost:.2f}</p>"
        f"<table><tr><th>shot</th><th>prompt</th><th>take</th><th>first frame</th><th></th></tr>{rows}</table>"
    )


def write_report(board: Any, path: str | Path, *, film: bool = True) -> Path:
    """Write the board's report (see the module docstring); with ``film``, the current branch's film beside it.

    Args:
        board: the storyboard.
        path: the HTML file to write.
        film: render the current branch's film (``<name>-film.mp4``) and show it at the top.
    """
    page = Path(path)
    page.parent.mkdir(parents=True, exist_ok=True)
    film_html = ""
    if film and board.chosen():
        made = board.film(page.with_name(f"{page.stem}-film.mp4"))
        how = "re-encoded" if made.reencoded else "remuxed, no quality lost"
        strip = base64.b64encode(made.posters.read_bytes()).decode("ascii")
        film_html = (
            f'<h2>Film</h2><video class="sd-film" controls width="640" src="{esc(_rel(made.path, page))}"></video>'
            f'<p><img src="data:image/jpeg;base64,{strip}" style="max-width:100%" alt="the shots"></p>'
            f"<p>{made.shots} shots, {made.seconds:.2f} s, {made.frames} frames ({how}); the takes of its shot "
            f"runs cost ${made.cost_usd:.2f}</p>"
        )
    est = board.estimate()
    branches = "".join(_branch_html(board, i, tip, page) for i, tip in enumerate(board.branches()))
    body = (
        f"<h1>Storyboard {esc(board.name)}</h1>"
        f"<p>{len(board)} shots, {len(board.branches())} branch(es); one pass costs about ${est.usd:.2f}; "
        f"every take made so far cost ${board.cost():.2f}</p>"
        f'<h2>Tree</h2><div class="sd-tree">{board.tree()._repr_html_()}</div>'
        f"{film_html}<h2>Branches</h2>{branches}"
    )
    html = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>Storyboard {esc(board.name)}</title>'
        f"{CSS}</head><body>{body}</body></html>"
    )
    tmp = page.with_name(page.name + ".part")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(page)
    return page

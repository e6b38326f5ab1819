"""A grid over any inputs: the product (or zip) of axes, times takes; images read, checked and held once.

::

    grid = Grid(image="cat.png", prompt=["push in", "whip pan"], duration=[4, 8], takes=2)  # random seed per take
    len(grid), grid.estimate()          # 16 videos and their cost, before anything is sent
    grid.preview()                      # a DataFrame of what would run

The endpoint is an axis too: ``Grid(endpoint=[mini, fast, standard], image=..., prompt=[...], seed=[1, 2])`` runs
every cell on each endpoint. Each job is validated against its own endpoint's schema; an input one endpoint lacks
(mini has no ``bitrate_mode``) is left out of that endpoint's jobs with one note (``grid.notes``, printed under
``print(grid.estimate())``, and an INFO log line);
the estimate is itemised per endpoint (:attr:`GridEstimate.by_endpoint`).

Every problem in every cell is reported at once, naming the field as the user wrote it (``image``, not
``image_url``); nothing is journalled or sent for an invalid grid.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._names import set_public_module
from ._text import plural
from .columns import INPUT_COLUMNS
from .errors import InputError, Problem
from .files import ImageData, load_image
from .lineup import dropped_fields, endpoint_list, endpoint_problems, estimate, model_label, unknown_everywhere
from .runs import Job, cache_key, to_dataframe
from .schema import DEFAULT_ENDPOINT, VideoInput

__all__ = ["EndpointEstimate", "Grid", "GridEstimate"]

logger = logging.getLogger("seedance_nb.grids")

_IMAGE_FIELDS = {"image": "image_url", "end_image": "end_image_url"}
_SHORT = {v: k for k, v in _IMAGE_FIELDS.items()}
_KNOWN = {"prompt", "image_url", "end_image_url", "resolution", "duration", "aspect_ratio", "generate_audio", "seed"}
_KNOWN |= {"end_user_id"}


#: Grid's own options, offered as "did you mean" for a misspelt one (``take=2``).
_OPTIONS = ("takes", "mode", "endpoint", "same_seed_ok", "allow_unknown")


# --------------------------------------------------------------------------- grid


def _check_options(
    takes: Any, mode: Any, endpoints: list[str], same_seed_ok: bool, allow_unknown: bool, inputs: dict[str, Any]
) -> None:
    """Refuse a grid's options before anything is read: the mode, the takes, the field names, and several
    takes of one fixed seed (the same request paid again)."""
    if mode not in ("product", "zip"):
        raise InputError([Problem("mode", "unknown grid mode", mode, "'product' or 'zip'")])
    if isinstance(takes, bool) or not isinstance(takes, int) or takes < 1:
        raise InputError([Problem("takes", "must be a whole number of at least 1", takes, "1, 2, 3, ...")])
    _check_names(inputs, endpoints, allow_unknown)
    if takes > 1 and not same_seed_ok:
        seeds = inputs.get("seed")
        fixed = seeds is not None and not (_is_axis(seeds) and None in list(seeds))
        if fixed:
            raise InputError(
                [
                    Problem(
                        "takes",
                        f"takes={takes} with a fixed seed repeats the same request, which likely pays again "
                        "for the same video",
                        takes,
                        "leave seed unset (each take then gets its own random seed), vary seeds instead of takes "
                        "(seed=[1, 2, 3], takes=1), or pass same_seed_ok=True",
                    )
                ]
            )


def _check_axes(axes: dict[str, list[Any]], mode: str) -> None:
    """Refuse an axis without values, and zip axes of different lengths."""
    empty = [k for k, v in axes.items() if not v]
    if empty:
        raise InputError([Problem(k, "axis has no values", [], "at least one value") for k in empty])
    if mode == "zip" and len({len(v) for v in axes.values()}) > 1:
        lengths = {k: len(v) for k, v in axes.items()}
        raise InputError([Problem("mode", f"zip needs axes of equal length, got {lengths}", None, None)])


def _check_names(inputs: dict[str, Any], endpoints: list[str], allow_unknown: bool) -> None:
    """Refuse a field no endpoint's schema lists (unless ``allow_unknown``) and an image given twice. (A field
    only some endpoints list is left out of the others' jobs: :func:`seedance_nb.lineup.dropped_fields`.)"""
    problems = [
        Problem(short, f"{short} and {name} are the same input; give one", None, f"{short}=... or {name}=...")
        for short, name in _IMAGE_FIELDS.items()
        if short in inputs and name in inputs
    ]
    if not allow_unknown:  # refused only when no endpoint takes it (an id without a known schema: unchecked)
        problems += unknown_everywhere(inputs, endpoints, _IMAGE_FIELDS, _OPTIONS)
    if problems:
        raise InputError(problems, context=f"the grid has {plural(len(problems), 'invalid input')}; nothing was sent")


def _is_axis(value: Any) -> bool:
    return isinstance(value, list | tuple | range)


#: One job's validated input and the images it uses, by field.
_Validated = tuple[VideoInput, dict[str, "ImageData | str"]]


@dataclass(frozen=True)
class Cell:
    fields: dict[str, Any]
    take: int


class Grid:
    """The product (or zip) of input axes, times ``takes``; grids concatenate with ``+``.

    Lists, tuples and ranges are axes; anything else is fixed. ``image`` and
    ``end_image`` take paths, bytes, PIL images, arrays, data URIs or URLs (a
    list of them is an axis); each image is read, checked and held once, however
    many jobs use it. Invalid combinations are reported all at once, naming the
    field as you wrote it.

    Args:
        takes: how many times each cell runs. With a fixed ``seed`` the takes would
            likely be the same video paid for again, so that is refused unless
            ``same_seed_ok=True`` (or vary the seed: ``seed=[1, 2]``).
        mode: ``"product"`` (every combination) or ``"zip"`` (axes in step).
        endpoint: the fal endpoint id, or a list of them: an axis (each job validated against, priced by and
            sent to its own endpoint; an input an endpoint's schema lacks while another's lists it is left out
            of that endpoint's jobs, with one note in :attr:`notes` and the log).
        same_seed_ok: allow ``takes > 1`` with a fixed seed.
        allow_unknown: send fields the endpoint's schema does not list (with a warning before the sweep
            sends anything) instead of refusing them with the nearest name it lists ("did you mean
            'resolution'?"). ``seed`` is always accepted (see docs/fal-fidelity.md).
        **inputs: the model's fields (``prompt``, ``image``, ``duration``, ...).
    """

    #: Per endpoint, the inputs left out of its jobs (its schema lacks them; another endpoint's lists them).
    _dropped: dict[str, list[str]]

    def __init__(
        self,
        *,
        takes: int = 1,
        mode: str = "product",
        endpoint: str | Sequence[str] = DEFAULT_ENDPOINT,
        same_seed_ok: bool = False,
        allow_unknown: bool = False,
        **inputs: Any,
    ) -> None:
        endpoints = endpoint_list(endpoint)
        _check_options(takes, mode, endpoints, same_seed_ok, allow_unknown, inputs)
        axes = {k: list(v) for k, v in inputs.items() if _is_axis(v)}
        if len(endpoints) > 1:  # zipped as given (a promotion's takes, each on its own endpoint)
            zipped = [str(e).strip().strip("/") for e in endpoint] if mode == "zip" else endpoints
            axes = {"endpoint": zipped, **axes}
        self._set_state(
            endpoint=endpoints[0],
            takes=takes,
            mode=mode,
            axes=axes,
            fixed={k: v for k, v in inputs.items() if not _is_axis(v)},
            images={},  # filled by _validate: each image read once
            uris={},
            cells=[],
            inputs=[],
            endpoints=endpoints,
        )
        _check_axes(self.axes, mode)
        self._cells = self._expand()
        if not allow_unknown:
            self._dropped = dropped_fields(inputs, endpoints, _IMAGE_FIELDS)
        self._inputs = self._validate()
        self._note_dropped()

    def _note_dropped(self) -> None:
        """One note per endpoint that leaves inputs out (never one per job), kept in :attr:`notes` and logged."""
        for endpoint, names in self._dropped.items():
            count = sum(1 for inp, _ in self._inputs if inp.endpoint == endpoint)
            if not count:
                continue
            listed = ", ".join(repr(n) for n in names)
            note = (
                f"{listed} left out of the {plural(count, 'job')} on {endpoint} ({model_label(endpoint)}): its "
                "schema does not list it; the other endpoints' jobs send it"
            )
            self.notes.append(note)
            # said where the user looks (``print(grid.estimate())``), logged quietly: the user chose this grid
            logger.info("%s", note)

    def _expand(self) -> list[Cell]:
        names = list(self.axes)
        if self.mode == "zip":
            combos = list(zip(*self.axes.values(), strict=False)) if names else [()]
        else:
            combos = list(itertools.product(*self.axes.values()))
        return [
            Cell({**self.fixed, **dict(zip(names, combo, strict=True))}, take)
            for combo in combos
            for take in range(1, self.takes + 1)
        ]

    def _image(self, value: Any, field: str) -> ImageData | str:
        """The checked image for ``value``, read once per grid (http(s) URLs pass through unread)."""
        cache_id = id(value)
        if cache_id not in self._images:
            if isinstance(value, str) and value.startswith(("http://", "https://")):
                self._images[cache_id] = value
            else:
                # Paths, bytes, arrays, PIL images and data URIs are all checked locally.
                self._images[cache_id] = load_image(value, field=field)
        return self._images[cache_id]

    def _uri(self, image: ImageData | str) -> str:
        """One data URI per image, shared by every job's input (never one copy per job)."""
        if isinstance(image, str):
            return image
        uri = self._uris.get(id(image))
        if uri is None:
            uri = self._uris[id(image)] = image.data_uri()
        return uri

    def _cell_fields(self, cell: Cell) -> tuple[str, dict[str, Any]]:
        """A cell's endpoint, and its fields without those that endpoint's jobs leave out."""
        fields = dict(cell.fields)
        endpoint = fields.pop("endpoint", self.endpoint)
        for name in self._dropped.get(endpoint, ()):
            fields.pop(name, None)
        return endpoint, fields

    def _where(self, index: int, cell: Cell) -> str:
        """`` [in job 3: endpoint=..., prompt='a']``: where a problem is (the endpoint's id in full)."""
        if len(self._cells) < 2:
            return ""
        where = ", ".join(
            f"{k}={v if k == 'endpoint' else _short(v)}" for k, v in cell.fields.items() if k in self.axes
        )
        return f" [in job {index}{': ' + where if where else ''}]"

    def _validate(self) -> list[tuple[VideoInput, dict[str, ImageData | str]]]:
        out, problems = [], []
        for index, cell in enumerate(self._cells):
            endpoint, fields = self._cell_fields(cell)
            images: dict[str, ImageData | str] = {}
            suffix = self._where(index, cell)
            try:
                for short, name in _IMAGE_FIELDS.items():
                    written = short if short in fields else name
                    value = fields.pop(short, None)
                    value = fields.pop(name, value)
                    if value is not None:
                        images[name] = self._image(value, written)
                        fields[name] = self._uri(images[name])
                if "image_url" not in fields:
                    raise InputError(
                        [
                            Problem(
                                "image",
                                "every job needs a start image",
                                None,
                                "image=<path, bytes, PIL image, array or URL>",
                                type="missing",
                            )
                        ]
                    )
                extra = {k: v for k, v in fields.items() if k not in _KNOWN}
                kwargs = {k: v for k, v in fields.items() if k in _KNOWN}
                # The field names were checked against the grid's endpoints (_check_names): not again here.
                inp = VideoInput(**kwargs, extra=extra, endpoint=endpoint, allow_unknown=True)
                if found := endpoint_problems(inp):  # another model's own schema (Kling, Wan, ...)
                    raise InputError(found)
                out.append((inp, images))
            except InputError as exc:
                for p in exc.problems:
                    field_name = _SHORT.get(p.field, p.field) if p.field not in cell.fields else p.field
                    problems.append(Problem(field_name, f"{p.message}{suffix}", p.value, p.allowed, p.type))
        if problems:
            unique = list({str(p): p for p in problems}.values())  # values may be unhashable (a set)
            raise InputError(unique, context=f"the grid has {plural(len(unique), 'invalid input')}; nothing was sent")
        return out

    @classmethod
    def concat(cls, *grids: Grid) -> Grid:
        """One grid running every job of ``grids``, in order (``a + b`` is ``Grid.concat(a, b)``).

        Nothing is read or validated again: each grid's jobs, images and data URIs are shared, not copied.

        Grids for different endpoints concatenate too: each job keeps its own endpoint (and the joined grid has
        ``endpoint`` among its axes).

        Args:
            *grids: at least one grid (for any endpoints).
        """
        if not grids or not all(isinstance(g, Grid) for g in grids):
            raise InputError(
                [Problem("grids", "Grid.concat takes one or more Grid objects", grids, "Grid.concat(a, b)")]
            )
        endpoints, axes = _joined_axes(grids)
        # The same class reads its own kind's state: SLF001 cannot tell another Grid from a stranger.
        parts = [g._state() for g in grids]  # noqa: SLF001
        joined = cls.__new__(cls)
        joined._set_state(  # noqa: SLF001
            endpoint=endpoints[0],
            takes=1,
            mode="concat",
            axes=axes,
            fixed={},
            images={k: v for images, _, _, _ in parts for k, v in images.items()},
            uris={k: v for _, uris, _, _ in parts for k, v in uris.items()},
            cells=[c for _, _, cells, _ in parts for c in cells],
            inputs=[i for _, _, _, inputs in parts for i in inputs],
            endpoints=endpoints,
        )
        joined.notes = [n for g in grids for n in g.notes]
        return joined

    def _state(
        self,
    ) -> tuple[
        dict[int, ImageData | str], dict[int, str], list[Cell], list[tuple[VideoInput, dict[str, ImageData | str]]]
    ]:
        return self._images, self._uris, self._cells, self._inputs

    def _set_state(
        self,
        *,
        endpoint: str,
        takes: int,
        mode: str,
        axes: dict[str, list[Any]],
        fixed: dict[str, Any],
        images: dict[int, ImageData | str],
        uris: dict[int, str],
        cells: list[Cell],
        inputs: list[_Validated],
        endpoints: list[str],
    ) -> None:
        """Every attribute a grid has, set in one place (by ``__init__`` and by :meth:`concat`)."""
        self.endpoint, self.takes, self.mode, self.axes, self.fixed = endpoint, takes, mode, axes, fixed
        self._images, self._uris, self._cells, self._inputs = images, uris, cells, inputs
        #: Every endpoint the grid's jobs run on, in order (``endpoint`` is the first).
        self.endpoints: list[str] = list(endpoints)
        #: What the grid left out and why (an input one endpoint's schema lacks), one line per endpoint.
        self.notes: list[str] = []
        self._dropped = {}

    def __add__(self, other: Grid) -> Grid:
        if not isinstance(other, Grid):
            return NotImplemented
        return Grid.concat(self, other)

    def __radd__(self, other: Any) -> Grid:
        if other == 0:  # sum([a, b, c]) starts from 0
            return self
        return NotImplemented

    def __len__(self) -> int:
        return len(self._cells)

    def __repr__(self) -> str:
        axes = ", ".join(f"{k}×{len(v)}" for k, v in self.axes.items()) or "no axes"
        return f"<Grid {plural(len(self), 'job')} ({axes}; takes={self.takes})>"

    def inputs(self) -> list[VideoInput]:
        """The validated input of every job, in order."""
        return [inp for inp, _ in self._inputs]

    def jobs(self) -> list[Job]:
        """One planned :class:`~seedance_nb.runs.Job` per cell and take, numbered from 0 in grid order."""
        out = []
        for index, (cell, (inp, images)) in enumerate(zip(self._cells, self._inputs, strict=False)):
            hashes = {k: (v.sha256 if isinstance(v, ImageData) else _url_hash(v)) for k, v in images.items()}
            labels = {k: (v.name if isinstance(v, ImageData) else _label(v)) for k, v in images.items()}
            size = next((v.size for k, v in images.items() if k == "image_url" and isinstance(v, ImageData)), None)
            job = Job(
                job=index,
                input=inp,
                take=cell.take,
                key=cache_key(inp.endpoint, inp, hashes, cell.take),
                labels=labels,
                images=hashes,
                image_data=images,
            )
            job.est_cost_usd = round(estimate(inp, size).usd, 6)
            out.append(job)
        return out

    def estimate(self) -> GridEstimate:
        """Total estimated cost: a point figure and the range when any duration is ``auto``, itemised per
        endpoint (:attr:`GridEstimate.by_endpoint`), each job at its own endpoint's price."""
        sums: dict[str, list[float]] = {e: [0, 0.0, 0.0, 0.0] for e in self.endpoints}
        for inp, images in self._inputs:
            image = images.get("image_url")
            est = estimate(inp, image.size if isinstance(image, ImageData) else None)
            row = sums.setdefault(inp.endpoint, [0, 0.0, 0.0, 0.0])
            row[0], row[1], row[2], row[3] = row[0] + 1, row[1] + est.usd, row[2] + est.low_usd, row[3] + est.high_usd
        items = tuple(
            EndpointEstimate(e, model_label(e), int(n), usd, low, high) for e, (n, usd, low, high) in sums.items() if n
        )
        return GridEstimate(
            len(self),
            sum(i.usd for i in items),
            sum(i.low_usd for i in items),
            sum(i.high_usd for i in items),
            items,
            tuple(self.notes),
        )

    def preview(self) -> Any:
        """A DataFrame of what would run, with each job's estimated cost (sends nothing)."""
        which = ["model"] if len(self.endpoints) > 1 else []
        columns = ["job", *which, *(c for c in INPUT_COLUMNS if c != "end_user_id"), "take", "est_cost_usd"]
        return to_dataframe(self.jobs())[columns]


@dataclass(frozen=True)
class EndpointEstimate:
    """One endpoint's share of a grid's estimate (:attr:`GridEstimate.by_endpoint`).

    Attributes:
        endpoint: the fal endpoint id.
        model: its short label (``"seedance-2.0 mini"``).
        jobs: how many of the grid's videos run on it.
        usd: their point estimate at this endpoint's price.
        low_usd: the low end.
        high_usd: the high end.
    """

    endpoint: str
    model: str
    jobs: int
    usd: float
    low_usd: float
    high_usd: float


@dataclass(frozen=True)
class GridEstimate:
    """What a grid would cost (:meth:`Grid.estimate`), summed over its jobs.

    Attributes:
        jobs: how many videos.
        usd: the point estimate in USD.
        low_usd: the low end (``usd`` when no duration is ``"auto"``).
        high_usd: the high end (budgets are checked against it).
        by_endpoint: the same, itemised per endpoint (one :class:`EndpointEstimate` each, in the grid's order).
        notes: the grid's notes (inputs left out of an endpoint's jobs), printed under the figures.
    """

    jobs: int
    usd: float
    low_usd: float
    high_usd: float
    by_endpoint: tuple[EndpointEstimate, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        text = f"{plural(self.jobs, 'video')}, about ${self.usd:.2f}"
        if self.high_usd - self.low_usd > 1e-9:
            text += f" (range ${self.low_usd:.2f}-${self.high_usd:.2f}: some durations are 'auto')"
        if len(self.by_endpoint) > 1:
            text += ": " + "; ".join(f"{i.model} {plural(i.jobs, 'video')} ${i.usd:.2f}" for i in self.by_endpoint)
        return text + "".join(f"\nnote: {note}" for note in self.notes)

    def table(self) -> Any:
        """The estimate per endpoint as a DataFrame: ``endpoint``, ``model``, ``jobs``, ``usd``, ``low_usd``,
        ``high_usd``."""
        import pandas as pd

        columns = ["endpoint", "model", "jobs", "usd", "low_usd", "high_usd"]
        return pd.DataFrame([[getattr(i, c) for c in columns] for i in self.by_endpoint], columns=columns)


def _joined_axes(grids: Sequence[Grid]) -> tuple[list[str], dict[str, list[Any]]]:
    """The endpoints of concatenated grids, in order, and their axes (``endpoint`` first when they differ)."""
    endpoints = list(dict.fromkeys(e for g in grids for e in g.endpoints))
    axes = {k: v for g in grids for k, v in g.axes.items() if k != "endpoint"}
    return endpoints, ({"endpoint": endpoints, **axes} if len(endpoints) > 1 else axes)


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, bytes) else f"<{len(value)} bytes>"
    return text if len(text) < 40 else text[:37] + "..."


def _label(url: str) -> str:
    if url.startswith("data:"):
        return "data URI"
    tail = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return tail or url[:60]


def _url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


set_public_module(__name__)

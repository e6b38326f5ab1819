"""One form builder for the widget forms: controls generated from the model's input schema.

This module owns turning an endpoint's input schema (fal's published OpenAPI document, as the snapshot
seedance-nb ships: :func:`seedance_nb.schema.load_snapshot`) into ipywidgets controls, and reading those
controls back into inputs. Types map to controls the way ipywidgets' ``interact`` maps them:

| schema field | one video (``sweep=False``) | a sweep (``sweep=True``) |
| --- | --- | --- |
| ``image_url``, ``end_image_url`` | image picker (upload, URL or path) | the same (one image) |
| enum | dropdown | list box, pick several; more than 8 values (durations): a list, ``4, 8, auto`` or ``4-6`` |
| bounded int / float | slider (bounded text for a wide range) | a list: ``1, 2, 3``, ``1-5``, ``4 random`` |
| int / float without default | text, empty means unset (a seed: ``random``) | a list; empty means unset |
| bool | checkbox | checkbox (one value for every job) |
| string | text area | text area, one value per line |

Arrays and objects are left to code (``Grid(...)``). ``seed``, which fal's model page lists but its published
schema does not (docs/fal-fidelity.md), is added when the schema lacks it. A field left at the schema's
default is not sent, so a form and a ``Grid`` written in code make the same request (and the same cache key).

Reading a form checks each value with the schema's own validation (:func:`seedance_nb.schema.check_payload`)
and reports every problem at once, naming the field as the user writes it (``image``, not ``image_url``). The
chosen image is read and checked once per change of the picker, never per keystroke elsewhere.
:class:`~seedance_nb.widgets.GenerateForm` (single values) and :class:`~seedance_nb.widgets.SweepBuilder`
(lists, for sweeping) are both built from it, so a field added to the schema appears in both with no widget
code::

    form = SchemaForm(sweep=True)             # every field of the shipped snapshot
    form["duration"].widget.value = "4, 8"
    Grid(**form.values())                     # or an InputError naming each bad field
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ipywidgets as W

from .errors import InputError, Problem
from .files import ImageData, is_url, load_image
from .openapi_schema import FieldSpec, InputSchema
from .schema import SEED_MAX, check_payload, load_snapshot

__all__ = [
    "EXTRA_FIELDS",
    "IMAGE_FIELDS",
    "UNSET",
    "Control",
    "FormField",
    "ImagePicker",
    "SchemaForm",
    "form_fields",
    "parse_list",
    "parse_seeds",
]

Kind = Literal["image", "choice", "integer", "number", "boolean", "text"]

#: Image fields, by the model's name, and the name a user writes (``Grid(image=...)``, error messages).
IMAGE_FIELDS: Mapping[str, str] = {"image_url": "image", "end_image_url": "end_image"}
_MODEL_NAMES = {written: name for name, written in IMAGE_FIELDS.items()}
#: Fields the model takes that a schema may not list: added to a form when its schema lacks them.
EXTRA_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("seed", "integer", minimum=0, maximum=SEED_MAX, title="Seed", description="random when empty"),
)
#: Short labels where the schema's title is long or unclear ("Image Url").
_LABELS = {
    "image_url": "Start image",
    "end_image_url": "End image",
    "aspect_ratio": "Aspect",
    "generate_audio": "Audio",
    "bitrate_mode": "Bitrate",
}
_PLACEHOLDERS = {
    ("prompt", False): "What should happen?",
    ("prompt", True): "one prompt per line",
    ("duration", True): "4, 8 or auto",
    ("seed", False): "random",
    ("seed", True): "1, 2, 3 or '4 random'",
}
#: An enum with more values than this takes a typed list in a sweep (a list box would be too tall).
_MAX_LISTBOX = 8
#: At most this many values from one range or "N random" (a typo must not build a million-job grid).
_MAX_VALUES = 1000
#: Labels longer than this get their own width (ipywidgets cuts descriptions at about 11 characters).
_LABEL_CHARS = 11
_RANGE = re.compile(r"^(-?\d+)\s*(?:\.\.|-)\s*(-?\d+)$")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: A field left empty (or at the schema's default): not sent, so fal's default applies.
UNSET: Any = _Unset()


# --------------------------------------------------------------------------- parsing lists


def parse_list(text: str, field: str) -> list[Any]:
    """``"4, 8, auto"`` -> ``[4, 8, "auto"]``; empty text -> ``[]`` (never raises; ``field`` is kept for callers)."""
    out: list[Any] = []
    for part in _split(text):
        out.append(int(part) if part.lstrip("-").isdigit() else part)
    return out


def parse_seeds(text: str, rng: random.Random | None = None) -> list[int | None]:
    """``"1, 2, 3"`` -> seeds; ``"4 random"`` -> four random seeds; empty -> one unset seed."""
    values = _parse_numbers(text, "seed", integer=True, low=0, high=SEED_MAX, rng=rng)
    return list(values) or [None]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def _parse_numbers(
    text: str,
    field: str,
    *,
    integer: bool,
    low: float | None = None,
    high: float | None = None,
    rng: random.Random | None = None,
) -> list[Any]:
    """Numbers from ``"1, 2.5"``, integer ranges ``"1-5"``/``"1..5"`` and ``"N random"`` (bounded integers)."""
    words = text.split()
    if integer and len(words) == 2 and words[1].lower() == "random" and words[0].isdigit():
        if low is None or high is None:
            raise _error(field, "'random' needs a bounded field", text, "a list like '1, 2, 3'")
        return _random(int(words[0]), int(low), int(high), field, rng)
    out: list[Any] = []
    for part in _split(text):
        span = _RANGE.match(part) if integer else None
        if span:
            out.extend(_span(int(span[1]), int(span[2]), field, part))
            continue
        try:
            out.append(int(part) if integer else float(part))
        except ValueError:
            what = "a whole number" if integer else "a number"
            hint = "a list like '1, 2, 3', a range '1-5' or '4 random'" if integer else "a list like '0.5, 1'"
            raise _error(field, f"not {what}: {part!r}", None, hint) from None
    for value in out:
        if (low is not None and value < low) or (high is not None and value > high):
            raise _error(field, f"{value} is out of range", value, f"{_number(low)}..{_number(high)}")
    return out


def _random(count: int, low: int, high: int, field: str, rng: random.Random | None) -> list[int]:
    if not 1 <= count <= _MAX_VALUES:
        raise _error(field, f"cannot draw {count} random values", count, f"1..{_MAX_VALUES}")
    rng = rng or random.Random()
    return [rng.randint(low, high) for _ in range(count)]


def _span(first: int, last: int, field: str, written: str) -> list[int]:
    step = 1 if last >= first else -1
    if abs(last - first) + 1 > _MAX_VALUES:
        raise _error(field, f"the range {written} has more than {_MAX_VALUES} values", written, "a shorter range")
    return list(range(first, last + step, step))


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _error(field: str, message: str, value: Any = None, allowed: str | None = None) -> InputError:
    return InputError([Problem(field, message, value, allowed)], context=f"bad {field}")


def _again(exc: InputError) -> InputError:
    """A fresh copy of a remembered error (raising one instance again and again would grow its traceback)."""
    return InputError(exc.problems, context=exc.context)


# --------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class FormField:
    """One input field as a form shows it: the schema's word on it, its kind of control, and its names."""

    spec: FieldSpec
    kind: Kind
    required: bool = False

    @property
    def name(self) -> str:
        """The model's name (``image_url``): the payload's key."""
        return self.spec.name

    @property
    def written(self) -> str:
        """The name a user writes (``image``): the ``Grid`` argument and the field named in errors."""
        return IMAGE_FIELDS.get(self.name, self.name)

    @property
    def label(self) -> str:
        return _LABELS.get(self.name) or self.spec.title or self.name.replace("_", " ").capitalize()

    @property
    def bounded(self) -> bool:
        return self.spec.minimum is not None and self.spec.maximum is not None


def _kind(spec: FieldSpec) -> Kind | None:
    types = set(spec.type.split("|")) - {"null", ""}
    if spec.name in IMAGE_FIELDS:
        return "image"
    if spec.enum is not None:
        return "choice"
    if types == {"boolean"}:
        return "boolean"
    if types == {"integer"}:
        return "integer"
    if types and types <= {"integer", "number"}:
        return "number"
    if types <= {"string"}:  # a field without a type is edited as text
        return "text"
    return None  # arrays and objects: left to code


def form_fields(schema: InputSchema | None = None) -> tuple[FormField, ...]:
    """The fields a form shows for ``schema`` (default: the shipped snapshot), in the schema's order.

    :data:`EXTRA_FIELDS` the schema lacks come last; arrays and objects are left out.
    """
    schema = schema or load_snapshot()
    specs = [*schema.fields.values(), *(spec for spec in EXTRA_FIELDS if spec.name not in schema.fields)]
    out = []
    for spec in specs:
        kind = _kind(spec)
        if kind is not None:
            out.append(FormField(spec, kind, spec.name in schema.required))
    return tuple(out)


# --------------------------------------------------------------------------- the image picker


class ImagePicker(W.VBox):
    """A start (or end) image from an upload, a URL or a path, with a thumbnail.

    The image is read and checked once per change (a path is read again only when the file changes on
    disk), so a form that is validated on every keystroke never reads or decodes it again.
    """

    def __init__(self, label: str, field: str, optional: bool = False, *, css: str | None = None) -> None:
        self.field = field
        self.optional = optional
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="Upload")
        self.text = W.Text(
            placeholder="https://... or a path", description=label, layout=W.Layout(width="420px", max_width="100%")
        )
        self.text.add_class(f"seedance-{(css or field).replace('_', '-')}")
        self.thumb = W.Image(layout=W.Layout(max_width="160px", max_height="120px", display="none"))
        super().__init__([W.HBox([self.text, self.upload]), self.thumb])
        self.upload.observe(self._uploaded, "value")
        self.text.observe(self._typed, "value")
        self._value: Any = None
        self._checked: tuple[Any, Any, ImageData | str | InputError | None] | None = None

    def _uploaded(self, _change: Any) -> None:
        files = self.upload.value
        if files:
            item = files[0]
            data = bytes(item["content"])
            self.text.value = ""
            # Kept with its file name, so grids, the DataFrame and the report label it "beach.png", not "image".
            self._value = (str(item.get("name") or "upload"), data)
            self._show(data)

    def _typed(self, _change: Any) -> None:
        text = self.text.value.strip()
        self._value = text or None
        if text and not is_url(text) and Path(text).expanduser().is_file():
            self._show(Path(text).expanduser().read_bytes())
        else:
            self.thumb.layout.display = "none"

    def _show(self, data: bytes) -> None:
        self.thumb.value = data
        self.thumb.layout.display = ""

    @property
    def value(self) -> Any:
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        if isinstance(value, str | Path):
            self.text.value = str(value)
        else:
            self._value = value

    def observe_value(self, callback: Callable[[Any], object]) -> None:
        """Call ``callback`` whenever the image changes (typed or uploaded)."""
        self.text.observe(callback, "value")
        self.upload.observe(callback, "value")

    def checked(self) -> ImageData | str | None:
        """The image ready for a Grid (a URL string or checked ImageData); raises InputError naming the field."""
        value, stamp = self._value, _stamp(self._value)
        cached = self._checked
        if cached is None or cached[0] is not value or cached[1] != stamp:
            try:
                result: ImageData | str | InputError | None = self._check(value)
            except InputError as exc:
                result = exc
            self._checked = cached = (value, stamp, result)
        if isinstance(cached[2], InputError):
            raise _again(cached[2])
        return cached[2]

    def _check(self, value: Any) -> ImageData | str | None:
        if value is None:
            if self.optional:
                return None
            raise _error(self.field, "choose an image (upload, URL or path)")
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            name = _MODEL_NAMES.get(self.field, self.field)
            problems = [
                dataclasses.replace(p, field=self.field) for p in check_payload({name: value}) if p.field == name
            ]
            if problems:
                raise InputError(problems, context=f"bad {self.field}")
            return value
        if isinstance(value, tuple):
            name, data = value
            return dataclasses.replace(load_image(data, field=self.field), name=name)
        return load_image(value, field=self.field)


def _stamp(value: Any) -> Any:
    """What identifies the image's content besides the value: a path's file size and modification time."""
    if not isinstance(value, str) or is_url(value):
        return None
    try:
        stat = Path(value).expanduser().stat()
    except (OSError, ValueError):
        return None
    return (stat.st_size, stat.st_mtime_ns)


# --------------------------------------------------------------------------- controls


class Control:
    """One field's widget and how to read it: one value, or (``sweep=True``) a list to sweep over.

    ``default`` overrides the schema's default as the control's starting value (a sweep starts at 480p).
    """

    def __init__(self, field: FormField, schema: InputSchema, *, sweep: bool = False, default: Any = UNSET) -> None:
        self.field = field
        self.schema = schema
        self.sweep = sweep
        self.listed = sweep and field.kind not in ("image", "boolean")
        start = default if default is not UNSET else (field.spec.default if field.spec.has_default else UNSET)
        self.widget: Any = _build(field, sweep, start, self.listed and self._text_list)
        if field.kind != "image":
            self.widget.add_class(f"seedance-{self.attribute.replace('_', '-')}")
            self.widget.tooltip = field.spec.description or None  # the schema's words, on hover
            if len(self.widget.description) > _LABEL_CHARS and field.kind != "boolean":
                self.widget.style.description_width = "initial"  # a long label is shown whole, not cut
        self._parsed: tuple[Any, Any] | None = None  # (text, values or InputError): "4 random" is drawn once

    @property
    def _text_list(self) -> bool:
        """A sweep over this field is typed as a list (else picked in a list box)."""
        return self.field.kind != "choice" or len(self.field.spec.enum or ()) > _MAX_LISTBOX

    @property
    def attribute(self) -> str:
        """The widget's attribute on a form: the written name, plural when it takes a list (``prompts``)."""
        written = self.field.written
        return written + "s" if self.listed and not written.endswith("s") else written

    def observe(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` on every change of the value."""
        if isinstance(self.widget, ImagePicker):
            self.widget.observe_value(lambda _c: callback())
        else:
            self.widget.observe(lambda _c: callback(), "value")

    def read(self) -> Any:
        """The field's value(s), or :data:`UNSET`; raises :class:`InputError` naming the field as written."""
        kind = self.field.kind
        if kind == "image":
            value = self.widget.checked()
            return UNSET if value is None else value
        values = self._read_list() if self.listed else self._read_one()
        if values is UNSET:
            return UNSET
        problems = self._check(values if self.listed else [values])
        if problems:
            raise InputError(problems, context=f"bad {self.field.written}")
        if self.field.spec.has_default and values == (
            [self.field.spec.default] if self.listed else self.field.spec.default
        ):
            return UNSET  # left at the schema's default: not sent, so fal's default applies
        return values

    def _read_one(self) -> Any:
        value = self.widget.value
        kind, spec = self.field.kind, self.field.spec
        if kind in ("integer", "number") and isinstance(value, str):
            text = value.strip()
            if not text or text.lower() in ("random", "unset"):
                return UNSET
            values = _parse_numbers(
                text, self.field.written, integer=kind == "integer", low=spec.minimum, high=spec.maximum
            )
            if len(values) != 1:
                raise _error(self.field.written, "takes one value", text, "one number")
            return values[0]
        if kind == "text" and not value.strip():
            if self.field.required:
                raise _error(self.field.written, f"write a {self.field.label.lower()}")
            return UNSET
        return UNSET if value is None else value

    def _read_list(self) -> Any:
        value = self.widget.value
        if isinstance(value, tuple):  # a list box
            if not value:
                raise _error(self.field.written, "pick at least one", None, _allowed(self.field.spec.enum or ()))
            return list(value)
        if self._parsed is None or self._parsed[0] != value:
            try:
                parsed: Any = self._parse_list(value)
            except InputError as exc:
                parsed = exc
            self._parsed = (value, parsed)
        if isinstance(self._parsed[1], InputError):
            raise _again(self._parsed[1])
        return self._parsed[1]

    def _parse_list(self, text: str) -> Any:
        kind, spec, written = self.field.kind, self.field.spec, self.field.written
        if kind == "text":
            values: list[Any] = [line.strip() for line in text.splitlines() if line.strip()]
        elif kind == "choice":
            values = _choices(text, spec.enum or ())
        else:
            values = _parse_numbers(text, written, integer=kind == "integer", low=spec.minimum, high=spec.maximum)
        if values:
            return values
        if self.field.required:
            raise _error(written, f"write at least one {self.field.label.lower()} (one per line)")
        return UNSET

    def _check(self, values: list[Any]) -> list[Problem]:
        """The schema's own checks of each value (an enum, a type, a seed's range), named as written."""
        problems: list[Problem] = []
        name, written = self.field.name, self.field.written
        for value in values:
            for problem in check_payload({name: value}, self.schema):
                if problem.field == name and problem not in problems:
                    problems.append(dataclasses.replace(problem, field=written))
        return problems


def _choices(text: str, enum: tuple[Any, ...]) -> list[Any]:
    """Enum values from ``"4, 8, auto"`` or ``"4-6"``, typed as the enum's values are."""
    out: list[Any] = []
    for part in _split(text):
        span = _RANGE.match(part)
        words = [str(n) for n in range(int(span[1]), int(span[2]) + 1)] if span else [part]
        for word in words:
            match = next((v for v in enum if str(v) == word), None)
            out.append(word if match is None else match)  # an unknown value is named by the schema's check
    return out


def _allowed(values: tuple[Any, ...]) -> str:
    return ", ".join(str(v) for v in values)


def _build(field: FormField, sweep: bool, start: Any, as_text: bool) -> Any:
    """The widget for ``field``: see the module docstring's table."""
    if field.kind == "image":
        return ImagePicker(field.label, field.written, optional=not field.required, css=field.name)
    if field.kind == "boolean":
        return W.Checkbox(value=bool(start) if start is not UNSET else False, description=field.label)
    if sweep and field.kind == "choice" and not as_text:
        return _multi_choice(field, start)
    if sweep or field.kind == "text" or (field.kind in ("integer", "number") and start is UNSET):
        return _text(field, sweep, start)
    if field.kind == "choice":
        return _dropdown(field, start)
    return _number_widget(field, start)


def _multi_choice(field: FormField, start: Any) -> Any:
    """A sweep's choice field: any of its values (the starting one, or the starting list, picked)."""
    enum = field.spec.enum or ()
    picked = tuple(start) if isinstance(start, list | tuple) else (start,) if start in enum else ()
    return W.SelectMultiple(
        options=[(str(v), v) for v in enum], value=picked, description=field.label, rows=min(len(enum), 4)
    )


def _dropdown(field: FormField, start: Any) -> Any:
    """One video's choice field: one of its values (or "(unset)" when it starts unset)."""
    enum = field.spec.enum or ()
    options = [(str(v), v) for v in enum] if start is not UNSET else [("(unset)", None), *((str(v), v) for v in enum)]
    return W.Dropdown(options=options, value=None if start is UNSET else start, description=field.label)


def _text(field: FormField, sweep: bool, start: Any) -> Any:
    label = field.label + ("s" if sweep and not field.label.endswith("s") else "")
    placeholder = _PLACEHOLDERS.get((field.name, sweep)) or ("one per line" if field.kind == "text" else "")
    if not placeholder and field.kind in ("integer", "number"):
        placeholder = "1, 2, 3" if sweep else "unset"
    value = (
        ""
        if start is UNSET or start is None
        else ", ".join(map(str, start))
        if isinstance(start, list | tuple)
        else str(start)
    )
    if field.kind != "text":
        return W.Text(value=value, description=label, placeholder=placeholder)
    big = "prompt" in field.name
    layout = W.Layout(
        width="560px" if big else "300px", max_width="100%", height=("90px" if sweep else "70px") if big else "32px"
    )
    return W.Textarea(value=value, description=label, placeholder=placeholder, layout=layout)


def _number_widget(field: FormField, start: Any) -> Any:
    spec, label = field.spec, field.label
    if field.kind == "integer":
        if not field.bounded:
            return W.IntText(value=int(start), description=label)
        low, high = int(spec.minimum or 0), int(spec.maximum or 0)
        kind = W.IntSlider if high - low <= _MAX_VALUES else W.BoundedIntText
        return kind(value=int(start), min=low, max=high, description=label)
    if not field.bounded:
        return W.FloatText(value=float(start), description=label)
    low_f, high_f = float(spec.minimum or 0), float(spec.maximum or 0)
    return W.FloatSlider(value=float(start), min=low_f, max=high_f, step=(high_f - low_f) / 100, description=label)


# --------------------------------------------------------------------------- the form


class SchemaForm:
    """A control for every field of an input schema (see :func:`form_fields`), read back as ``Grid`` inputs.

    Args:
        schema: the input schema (default: the shipped snapshot of the default endpoint; pass
            :func:`seedance_nb.schema.current_schema` to follow fal's latest document).
        sweep: ``True`` for a sweep's controls (lists and ranges), ``False`` for one video's.
        defaults: starting values by written name, overriding the schema's defaults.
    """

    def __init__(
        self, schema: InputSchema | None = None, *, sweep: bool = False, defaults: Mapping[str, Any] | None = None
    ) -> None:
        self.schema = schema or load_snapshot()
        self.sweep = sweep
        starts = dict(defaults or {})
        self.controls: dict[str, Control] = {
            f.written: Control(f, self.schema, sweep=sweep, default=starts.get(f.written, UNSET))
            for f in form_fields(self.schema)
        }

    def __getitem__(self, written: str) -> Control:
        return self.controls[written]

    def __contains__(self, written: object) -> bool:
        return written in self.controls

    def __iter__(self) -> Iterator[Control]:
        return iter(self.controls.values())

    def observe(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` on every change of any control."""
        for control in self:
            control.observe(callback)

    def values(self) -> dict[str, Any]:
        """Every field's value(s) by written name (unset ones left out); :class:`InputError` lists every problem."""
        out: dict[str, Any] = {}
        problems: list[Problem] = []
        for written, control in self.controls.items():
            try:
                value = control.read()
            except InputError as exc:
                problems += exc.problems
                continue
            if value is not UNSET:
                out[written] = value
        if problems:
            raise InputError(problems, context="fix the sweep" if self.sweep else "fix the form")
        return out

    def rows(self) -> list[W.Widget]:
        """The layout: image pickers, then prompts, one per row; then every other control in a wrapping row."""
        images = [c for c in self if c.field.kind == "image"]
        prompts = [c for c in self if c.field.kind == "text" and "prompt" in c.field.name]
        rest = [c.widget for c in self if c not in images and c not in prompts]
        return [*(c.widget for c in images + prompts), W.HBox(rest, layout=W.Layout(flex_flow="row wrap"))]

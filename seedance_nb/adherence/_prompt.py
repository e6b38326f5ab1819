"""The camera move a prompt asks for, in the phrasing of Seedance's prompt guide, and whether a take did it.

The guide names camera moves in plain words ("slow dolly in", "the camera pans left", "orbit around the
subject", "static shot", "handheld tracking shot"); a prompt asks for at most one here: the first move named
that is not negated ("no zoom, a slow pan left" asks for a pan left). Phrases that state a still camera
("no camera movement", "the camera does not move", "locked-off", "tripod") ask for ``static``.

What each phrase asks for, as :data:`~seedance_nb.adherence.CAMERA_CLASSES` names (a move with no direction
named asks for its family: ``pan`` accepts pan left or pan right):

- push in: push in, dolly in / forward, zoom in, (slow) zoom, move in / closer; pull out: pull out / back,
  dolly out / back, zoom out;
- pan left/right: pan, truck, dolly left/right, tracking / following shot (a lateral move either way);
- tilt up/down: tilt, crane / boom / pedestal up/down (the picture slides the way a tilt's does);
- orbit left/right: orbit, arc (shot), circle(s) around, 360; "counter-clockwise" is left, "clockwise" right;
- handheld: handheld, hand-held, shaky (cam), camera shake, jittery;
- static: static, still / fixed / stationary / locked(-off) camera or shot, tripod, no camera movement.
"""

from __future__ import annotations

import re

#: What the adherence verdict can be.
MATCH, MISMATCH, NO_MOVE_ASKED = "match", "mismatch", "no move asked"

_NEGATORS = re.compile(r"\b(no|not|without|never|don'?t|doesn'?t|isn'?t|avoid|avoiding|zero|nor|n't)\b")
#: Statements of a still camera, negations included (checked first).
_STILL = re.compile(
    r"\b(?:no|without|zero)\s+(?:camera\s+)?(?:movement|motion|moves?)\b"
    r"|\bcamera\s+(?:does\s*n[o']?t|doesn'?t|never|won'?t)\s+move"
    r"|\bcamera\s+(?:stays|remains|is\s+held|holds)\s+(?:perfectly\s+|completely\s+)?"
    r"(?:still|static|fixed|stationary|steady)"
    r"|\b(?:static|still|fixed|stationary|locked[- ]?off|locked|tripod)\s+(?:camera|shot|frame|framing|view)\b"
    r"|\blocked[- ]off\b|\btripod\b|\bstatic\b"
)
_DIRECTION = r"(?:\s+(?:slowly|gently|quickly|smoothly|steadily|to|the|towards?|toward|around|from|a\s+bit))*\s+"
#: Each move's words: (regex, family, the class when no direction follows).
_MOVES: tuple[tuple[str, str, str | None], ...] = (
    (r"\b(?:handheld|hand-held|shaky(?:\s+cam(?:era)?)?|camera\s+shake|jittery)\b", "handheld", "handheld"),
    (
        r"\b(?:(?:360(?:-degree)?\s+)?(?:orbit(?:s|ing|ed)?|arc(?:s|ing)?(?:\s+shot)?)|circl(?:e|es|ing)\s+around|360)\b",
        "orbit",
        None,
    ),
    (
        r"\b(?:pan(?:s|ning|ned)?|truck(?:s|ing)?|track(?:s|ing)?(?:\s+shot)?|following\s+shot|follow\s+shot)\b",
        "pan",
        None,
    ),
    (r"\b(?:tilt(?:s|ing|ed)?|crane(?:s|ing)?|boom(?:s|ing)?|pedestal)\b", "tilt", None),
    (r"\b(?:dolly|dollies|dollying)\b", "dolly", "push in"),
    (r"\b(?:push(?:es|ing)?(?:-in)?|move(?:s)?\s+(?:in|closer)|zoom(?:s|ing)?|close(?:s)?\s+in)\b", "push", "push in"),
    (r"\b(?:pull(?:s|ing)?(?:-out)?|zoom(?:s|ing)?\s+out|draw(?:s)?\s+back)\b", "pull", "pull out"),
)
_WORDS = {
    "left": "left",
    "right": "right",
    "up": "up",
    "upward": "up",
    "upwards": "up",
    "down": "down",
    "downward": "down",
    "downwards": "down",
    "in": "in",
    "into": "in",
    "forward": "in",
    "closer": "in",
    "out": "out",
    "back": "out",
    "backward": "out",
    "backwards": "out",
    "away": "out",
    "clockwise": "right",
    "counterclockwise": "left",
    "counter-clockwise": "left",
    "anticlockwise": "left",
    "anti-clockwise": "left",
}
_AFTER = re.compile(
    _DIRECTION.removesuffix(r"\s+")
    + r"\s*\b("
    + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True))
    + r")\b"
)
_BEFORE = re.compile(r"\b(left|right|up|down|upward|downward|clockwise|counter-?clockwise|anti-?clockwise)\s+$")


def _resolve(family: str, default: str | None, direction: str | None) -> str | None:
    """The class a family and a direction word name."""
    table = {
        "pan": {"left": "pan left", "right": "pan right"},
        "tilt": {"up": "tilt up", "down": "tilt down"},
        "orbit": {"left": "orbit left", "right": "orbit right"},
        "dolly": {"in": "push in", "out": "pull out", "left": "pan left", "right": "pan right"},
        "push": {"in": "push in", "out": "pull out"},
        "pull": {"out": "pull out", "in": "push in"},
    }
    found = table.get(family, {}).get(direction or "")
    if found:
        return found
    return default if default is not None else family


_CLAUSE = re.compile(r"[,.;:!?]|\b(?:but|and|then|instead|while|before|after)\b")


def _negated(text: str, start: int) -> bool:
    """Whether a negation stands within the three words before ``start``, in the same clause."""
    before = _CLAUSE.split(text[:start])[-1].split()[-3:]
    return bool(_NEGATORS.search(" ".join(before)))


def asked_camera_move(prompt: str | None) -> str | None:
    """The camera move ``prompt`` asks for: a class of :data:`CAMERA_CLASSES`, a family with no direction
    (``"pan"``, ``"tilt"``, ``"orbit"``), or None when it asks for none.

    Args:
        prompt: the prompt's text.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    text = " ".join(prompt.lower().replace("’", "'").split())
    found: list[tuple[int, str | None]] = []
    for match in _STILL.finditer(text):
        if not _NEGATORS.search(match.group(0)) and _negated(text, match.start()):
            continue
        found.append((match.start(), "static"))
        break
    for pattern, family, default in _MOVES:
        for match in re.finditer(pattern, text):
            if _negated(text, match.start()):
                continue
            after = _AFTER.match(text, match.end())
            before = _BEFORE.search(text[: match.start()])
            word = _WORDS.get(after.group(1)) if after else None
            if word is None and before:
                word = _WORDS.get(before.group(1).replace("-", ""), _WORDS.get(before.group(1)))
            found.append((match.start(), _resolve(family, default, word)))
            break
    found = [item for item in found if item[1] is not None]
    return min(found, key=lambda item: item[0])[1] if found else None


def camera_adherence(asked: str | None, measured: str | None) -> str:
    """``"match"``, ``"mismatch"`` or ``"no move asked"``: whether the measured move is the asked one (a
    family with no direction, such as ``"pan"``, accepts either direction).

    Args:
        asked: :func:`asked_camera_move`'s answer.
        measured: the take's measured class (:class:`CameraMotion`'s ``move``).
    """
    if asked is None:
        return NO_MOVE_ASKED
    if measured is None:
        return MISMATCH
    if measured == asked or measured.split(" ")[0] == asked:
        return MATCH
    return MISMATCH

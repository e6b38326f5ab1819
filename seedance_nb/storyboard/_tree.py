"""A storyboard's tree: shot runs (nodes) and the takes chosen from them (choices), kept in ``board.json``.

A node is one run of one shot (its own run folder); a choice is a take chosen from a node, and (unless it is the
last shot's) it starts a child node: the next shot from that take's last frame. Choosing another take of a shot
adds a choice, and with it a new branch; nothing is ever overwritten. A branch is a path from the first shot to a
tip (a node nobody has chosen from yet, or a choice of the last shot). The file is written atomically (a
temporary file, fsynced, renamed over the old one), so a crash leaves the old tree or the new one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..markup import esc

__all__ = ["BoardTree", "TreeState", "read_state", "write_state"]

BOARD_FILE = "board.json"
VERSION = 1


@dataclass
class TreeState:
    """What ``board.json`` holds: the shots as written, the nodes, the choices and the current tip."""

    name: str
    image: str
    shots: list[dict[str, Any]]
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    choices: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "name": self.name,
            "image": self.image,
            "shots": self.shots,
            "nodes": self.nodes,
            "choices": self.choices,
            "current": self.current,
        }

    # ----------------------------------------------------------------- walking the tree

    def children(self, node_id: str) -> list[dict[str, Any]]:
        """The choices made from a node, oldest first."""
        return [c for c in self.choices.values() if c["node"] == node_id]

    def child_node(self, choice_id: str) -> dict[str, Any] | None:
        return next((n for n in self.nodes.values() if n.get("parent") == choice_id), None)

    def path(self, tip: str | None = None) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        """(node, choice made from it or None) from the first shot to ``tip`` (default: the current one)."""
        tip = tip or self.current
        out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        choice = self.choices.get(tip) if tip else None
        node = self.nodes[choice["node"]] if choice else self.nodes.get(tip or "")
        while node is not None and len(out) <= len(self.nodes):
            out.append((node, choice))
            choice = self.choices.get(node.get("parent") or "")
            node = self.nodes[choice["node"]] if choice else None
        return out[::-1]

    def tips(self) -> list[str]:
        """Every branch's tip, in the order they were made: choices with no next node, nodes with no choice."""
        found = [n["id"] for n in self.nodes.values() if not self.children(n["id"])]
        found += [c["id"] for c in self.choices.values() if self.child_node(c["id"]) is None]
        order = {key: i for i, key in enumerate([*self.nodes, *self.choices])}
        return sorted(found, key=lambda key: (self._made(key), order[key]))

    def _made(self, key: str) -> str:
        item = self.nodes.get(key) or self.choices.get(key) or {}
        return str(item.get("made_at", ""))

    def deepest(self, key: str) -> str:
        """The tip reached from ``key`` by always following the newest choice (how a re-choice re-bases)."""
        for _ in range(len(self.nodes) + len(self.choices) + 1):
            if key in self.choices:
                child = self.child_node(key)
                if child is None:
                    return key
                key = child["id"]
            else:
                made = self.children(key)
                if not made:
                    return key
                key = made[-1]["id"]
        return key


def read_state(folder: Path) -> TreeState:
    """The tree in ``folder/board.json``."""
    data = json.loads((folder / BOARD_FILE).read_text(encoding="utf-8"))
    return TreeState(
        name=data["name"],
        image=data["image"],
        shots=data["shots"],
        nodes=data.get("nodes", {}),
        choices=data.get("choices", {}),
        current=data.get("current"),
    )


def write_state(folder: Path, state: TreeState) -> None:
    """Write ``board.json`` atomically (temporary file, fsync, rename, then the folder fsynced)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / BOARD_FILE
    tmp = folder / f".{BOARD_FILE}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state.to_json(), fh, indent=1, sort_keys=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- the picture


@dataclass(frozen=True)
class BoardTree:
    """A storyboard's tree as a small picture: SVG in Jupyter, text in a terminal (``board.tree()``).

    Args:
        name: the board's name.
        shots: how many shots the board has.
        nodes: every shot run: id, shot, takes, status.
        choices: every choice: id, node, job.
        tips: every branch's tip, in order (``board.branches()``).
        current: the current branch's path (node and choice ids).
    """

    name: str
    shots: int
    nodes: tuple[dict[str, Any], ...]
    choices: tuple[dict[str, Any], ...]
    tips: tuple[str, ...]
    current: tuple[str, ...]

    @property
    def branches(self) -> int:
        """How many branches the tree has."""
        return len(self.tips)

    def _lines(self, node: dict[str, Any], prefix: str, out: list[str]) -> None:
        made = [c for c in self.choices if c["node"] == node["id"]]
        for i, choice in enumerate(made):
            last = i == len(made) - 1
            mark = " *" if choice["id"] in self.current else ""
            child = next((n for n in self.nodes if n.get("parent") == choice["id"]), None)
            head = f"{prefix}{'└─' if last else '├─'} take #{choice['job']}{mark}"
            if child is None:
                out.append(head + (" (last shot)" if node["shot"] == self.shots else ""))
                continue
            star = " *" if child["id"] in self.current else ""
            out.append(f"{head} → {child['id']}: {child.get('summary', '')}{star}")
            self._lines(child, prefix + ("   " if last else "│  "), out)

    def __repr__(self) -> str:
        out = [f"Storyboard {self.name!r}: {self.shots} shots, {self.branches} branch(es); * = the current branch"]
        for root in (n for n in self.nodes if not n.get("parent")):
            star = " *" if root["id"] in self.current else ""
            out.append(f"{root['id']}: {root.get('summary', '')}{star}")
            self._lines(root, "", out)
        return "\n".join(out)

    def _layout(self) -> dict[str, tuple[int, int]]:
        """Each node's (column = its shot, row = the order of the leaves under it)."""
        place: dict[str, tuple[int, int]] = {}
        row = 0

        def visit(node: dict[str, Any]) -> int:
            nonlocal row
            kids = [
                n for c in self.choices if c["node"] == node["id"] for n in self.nodes if n.get("parent") == c["id"]
            ]
            rows = [visit(kid) for kid in kids]
            if not rows:
                rows = [row]
                row += 1
            place[node["id"]] = (node["shot"], rows[0])
            return rows[0]

        for root in (n for n in self.nodes if not n.get("parent")):
            visit(root)
        return place

    def _repr_html_(self) -> str:
        place = self._layout()
        box_w, box_h, gap_x, gap_y = 120, 34, 70, 18
        width = self.shots * (box_w + gap_x) + 10
        height = (max((r for _, r in place.values()), default=0) + 1) * (box_h + gap_y) + 30
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="11" role="img" aria-label="storyboard tree">'
        ]
        for shot in range(1, self.shots + 1):
            parts.append(f'<text x="{(shot - 1) * (box_w + gap_x) + 6}" y="12" fill="#666">shot {shot}</text>')

        def xy(node_id: str) -> tuple[int, int]:
            shot, row = place[node_id]
            return (shot - 1) * (box_w + gap_x) + 5, row * (box_h + gap_y) + 20

        for choice in self.choices:
            x, y = xy(choice["node"])
            child = next((n for n in self.nodes if n.get("parent") == choice["id"]), None)
            colour = "#d9480f" if choice["id"] in self.current else "#999"
            if child is not None:
                cx, cy = xy(child["id"])
                parts.append(
                    f'<path d="M{x + box_w},{y + box_h / 2} C{x + box_w + 35},{y + box_h / 2} {cx - 35},'
                    f'{cy + box_h / 2} {cx},{cy + box_h / 2}" stroke="{colour}" fill="none" stroke-width="2"/>'
                )
                tx, ty = (x + box_w + cx) / 2 - 10, (y + cy) / 2 + box_h / 2 - 4
            else:
                tx, ty = x + box_w + 6, y + box_h / 2 + 4
            parts.append(f'<text x="{tx}" y="{ty}" fill="{colour}">#{esc(str(choice["job"]))}</text>')
        for node in self.nodes:
            x, y = xy(node["id"])
            stroke = "#d9480f" if node["id"] in self.current else "#888"
            parts.append(
                f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="5" fill="#fafafa" '
                f'stroke="{stroke}" stroke-width="2"/>'
                f'<text x="{x + 6}" y="{y + 14}" font-weight="bold">{esc(node["id"])}</text>'
                f'<text x="{x + 6}" y="{y + 28}" fill="#444">{esc(str(node.get("summary", "")))}</text>'
            )
        parts.append("</svg>")
        return "".join(parts)

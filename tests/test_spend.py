"""Emulated jobs are never money: not in the spend ledger, not against a cap, no reservation while an
emulated sweep runs; the ledger's figures are dollars and cents (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import seedance_nb as sd
from seedance_nb.catalogs import Catalog


def _as_fal(run_dir: Path) -> None:
    """The journal a run on fal writes (``backend: fal``): the emulator plays fal for the paid run here."""
    journal = run_dir / "journal.jsonl"
    lines = journal.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["event"] == "sweep" and header["backend"] == "emulator"
    journal.write_text("\n".join([json.dumps({**header, "backend": "fal"}), *lines[1:]]) + "\n", encoding="utf-8")


def _grid(png_path: Path, prompts: list[str]) -> sd.Grid:
    return sd.Grid(image=png_path, prompt=prompts, seed=[1], resolution="720p", duration=5)


def test_emulated_jobs_are_never_spend_nor_against_a_cap(catalog_url, emu, client, tmp_path, png_path, capsys):
    from seedance_nb.cli import main

    emu.configure(render="tiny")
    root = tmp_path / "sweeps"
    with Catalog(catalog_url, root=root) as cat:
        rehearsal = sd.run_sweep(_grid(png_path, ["a", "b", "c"]), client=client, run_dir=root / "rehearsal")
        paid = sd.run_sweep(_grid(png_path, ["the one paid"]), client=client, run_dir=root / "paid")
        _as_fal(root / "paid")
        est = paid.jobs[0].est_cost_usd
        assert est > 0.5 and sum(j.est_cost_usd for j in rehearsal.jobs) > 3 * 0.5  # what it would have cost
        ledger = cat.spend("sweep")
        assert list(ledger.sweep) == ["paid"] and ledger.videos.tolist() == [1]
        rehearsals = cat.spend("sweep", emulated=True)  # what the emulated runs would have cost on fal
        assert list(rehearsals.sweep) == ["rehearsal"] and rehearsals.videos.tolist() == [3]
        assert set(rehearsals.basis) == {"emulated"} and "rehearsal" in rehearsals.attrs["note"]
        assert rehearsals.total_usd.tolist() == [round(sum(j.est_cost_usd for j in rehearsal.jobs), 2)]
        assert ledger.total_usd.tolist() == [round(est, 2)]
        assert cat.spent("day")["estimated_usd"] == pytest.approx(est)
        # A cap just above what was paid: the emulated $2+ would have refused this; it is not money.
        cat.set_budget(round(est, 2) + 0.10, per="day")
        reservation = cat.check_cap(0.05, label="small")
        assert reservation is not None
        cat.release_reservation(reservation)
        # A running emulated sweep reserves nothing under the cap (it is checked against it, as a rehearsal).
        cat.set_budget(100.0, per="day")
        reserved: list[float] = []
        sd.run_sweep(
            _grid(png_path, ["d", "e"]),
            client=client,
            run_dir=root / "rehearsal-2",
            catalog=cat,
            on_update=lambda sweep, job: reserved.append(cat.spent("day")["reserved_usd"]),
        )
        assert reserved and set(reserved) == {0.0}
        assert cat.spend("day").videos.sum() == 1
    url = ["catalog", "--root", str(root), "--url", catalog_url]
    assert main([*url, "spend", "--by", "sweep"]) == 0
    out = capsys.readouterr().out
    assert "paid" in out and "rehearsal" not in out
    assert f"${est:.2f}" in out and not re.search(r"\d\.\d{3}", out), out  # dollars and cents, not 0.7644
    assert main([*url, "spend", "--by", "sweep", "--emulated"]) == 0
    out = capsys.readouterr().out
    assert "rehearsal" in out and "emulated" in out and "paid " not in out
    assert main([*url, "budget"]) == 0
    assert f"spent ${est:.2f} ($0.00 from fal, ${est:.2f} estimated)" in capsys.readouterr().out

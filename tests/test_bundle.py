"""The report you send: `seedance-nb report --bundle` / `sd.bundle_report` write one zip that holds the report,
its videos, posters and journal, linked relatively, and say what to send."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import av

import seedance_nb as sd
from seedance_nb.cli import main
from seedance_nb.sweep import Grid, run_sweep


def _sweep(client, png_path, run_dir: Path):
    grid = Grid(image=png_path, prompt=["a slow push in", "dusk falls"], resolution="480p", duration=4)
    return run_sweep(grid, client=client, run_dir=run_dir, progress=False)


def test_a_bundle_holds_the_report_videos_posters_and_journal_linked_relatively(client, png_path, tmp_path, capsys):
    sweep = _sweep(client, png_path, tmp_path / "sweeps" / "coast")
    path = sd.bundle_report(sweep)
    assert path == sweep.run_dir / "coast-report.zip"
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        html = zf.read("coast/report.html").decode()
        journal = zf.read("coast/journal.jsonl").decode()
        video = zf.read(next(n for n in sorted(names) if n.startswith("coast/videos/")))
        kinds = {i.filename: i.compress_type for i in zf.infolist()}
    assert {"coast/report.html", "coast/journal.jsonl", "coast/sweep.json", "coast/README.txt"} <= names
    videos = sorted(n for n in names if n.startswith("coast/videos/") and n.endswith(".mp4"))
    posters = sorted(n for n in names if n.startswith("coast/posters/"))
    assert len(videos) == 2 and len(posters) == 2 and len(journal.splitlines()) >= 2
    sources = re.findall(r'<video[^>]*\ssrc="([^"]+)"', html) + re.findall(r'<source[^>]*\ssrc="([^"]+)"', html)
    assert sorted({f"coast/{s}" for s in sources}) == videos, sources  # every video, by a relative link
    assert str(tmp_path) not in html and "127.0.0.1" not in html and "file://" not in html
    assert all(kinds[v] == zipfile.ZIP_STORED for v in videos) and kinds["coast/report.html"] == zipfile.ZIP_DEFLATED
    copy = tmp_path / "one.mp4"
    copy.write_bytes(video)
    with av.open(str(copy)) as container:  # a real MP4 went in, whole
        assert container.streams.video[0].frames > 0 or container.duration

    # the command says what to send (one run folder serves both, to keep the test quick)
    assert main(["report", str(sweep.run_dir), "--bundle", "--out", str(tmp_path / "lake.zip")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"send this one file: {tmp_path / 'lake.zip'} (") and "2 videos" in out
    assert "opens coast/report.html in a browser" in out
    assert zipfile.ZipFile(tmp_path / "lake.zip").testzip() is None
    # a bundle into a folder that does not exist, or with --embed, is refused with the flag named; nothing written
    assert main(["report", str(sweep.run_dir), "--bundle", "--out", str(tmp_path / "nowhere" / "b.zip")]) == 2
    assert "--out" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()
    assert main(["report", str(sweep.run_dir), "--bundle", "--embed"]) == 2
    assert "--embed" in capsys.readouterr().err

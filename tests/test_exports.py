"""Exports to where a team looks: MLflow (a SQLite store, a ``file:`` store and a real ``mlflow server``) and W&B
(offline), read back through their own clients; the key never reaches them; a missing library names its extra."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from seedance_testconf import make_png

from seedance_nb.client import AsyncClient

SENTINEL = "fal-key-sentinel-3b9d0c1e:never-exported"


def _need(module: str) -> None:
    """Skip when the library is missing here; fail under CI, where the test extra installs it."""
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs {module} for the export tests (the test extra installs it)")
        pytest.skip(f"{module} is not installed (pip install 'seedance-nb[{module}]')")


@pytest.fixture(scope="module")
def sweep(emulator, tmp_path_factory):
    """Two takes (two prompts), 480p, 4 s, on the emulator; one rated, one vote; FAL_KEY set to a sentinel."""
    from seedance_testconf import TEST_CONFIG

    from seedance_nb.sweep import Grid, run_sweep

    emulator.configure(**TEST_CONFIG)
    root = tmp_path_factory.mktemp("exports")
    image = root / "start.png"
    image.write_bytes(make_png())
    client = AsyncClient(
        queue_url=emulator.queue_url, rest_url=emulator.rest_url, cdn_url=emulator.cdn_url, api_url=emulator.api_url
    )
    grid = Grid(image=image, prompt=["the camera pushes in", "the camera pans left"], duration=4, resolution="480p")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAL_KEY", SENTINEL)
        done = run_sweep(grid, client=client, run_dir=root / "sweeps" / "harbour", progress=False)
    done.rate(0, rating=4, note="steady")
    done.vote(0, 1, "a")
    return done


def _no_sentinel(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path


def _runs(client, experiment_id: str) -> list:
    return list(client.search_runs([experiment_id], max_results=1000))


def _check_mlflow(client, export, sweep) -> None:
    """What a team reads back: the axes as params, the numbers as metrics, tags, the files and the report."""
    rows = {int(row["job"]): row for row in sweep.df.to_dict("records")}
    assert set(export.runs) == set(rows)
    for job, run_id in export.runs.items():
        run = client.get_run(run_id)
        assert run.data.params["prompt"] == rows[job]["prompt"]
        assert run.data.tags["mlflow.parentRunId"] == export.parent_run_id
        assert run.data.tags["request_id"] == rows[job]["request_id"]
        assert run.data.tags["backend"] == "emulator" and run.data.tags["endpoint"] == sweep.endpoint
        metrics = run.data.metrics
        assert metrics["cost_usd"] == pytest.approx(rows[job]["cost_usd"])
        assert metrics["motion"] == pytest.approx(rows[job]["motion"])
        assert metrics["generation_seconds"] == pytest.approx(rows[job]["generation_seconds"])
        assert "bt_score" in metrics and "camera_adherence_match" in metrics
        assert run.data.tags["sd.camera_adherence"] == rows[job]["camera_adherence"]
        listed = {
            f.path: f.file_size
            for folder in ("video", "poster", "filmstrip")
            for f in client.list_artifacts(run_id, folder)
        }
        video = Path(rows[job]["path"])
        assert listed[f"video/{video.name}"] == video.stat().st_size
        assert f"poster/{Path(rows[job]['poster']).name}" in listed and f"filmstrip/{video.stem}.jpg" in listed
    assert client.get_run(export.runs[0]).data.metrics["rating"] == 4
    strengths = [client.get_run(export.runs[j]).data.metrics["bt_score"] for j in (0, 1)]
    assert strengths[0] > strengths[1]  # take 0 won the one duel
    parent = client.get_run(export.parent_run_id)
    assert parent.data.metrics["jobs"] == 2 and parent.data.params["takes"] == "1"
    assert [f.path for f in client.list_artifacts(export.parent_run_id)] == ["report.html"]


@pytest.mark.parametrize("store", ["sqlite", "file"])
def test_mlflow_local_store_reads_back_and_a_second_export_updates(sweep, store, tmp_path, monkeypatch):
    _need("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("FAL_KEY", SENTINEL)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = None if store == "sqlite" else (tmp_path / "mlruns").as_uri()
    if store == "file":  # MLflow 3.x refuses its file store (maintenance mode) unless the user opts in
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    export = sweep.to_mlflow(experiment="harbour", tracking_uri=uri)
    if store == "sqlite":  # the default: MLflow 3's SQLite store beside the run folder, artefacts beside it
        assert export.tracking_uri == f"sqlite:///{sweep.run_dir.resolve().parent / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=export.tracking_uri)
    _check_mlflow(client, export, sweep)
    assert len(_runs(client, export.experiment_id)) == 3
    sweep.rate(1, rating=2)
    again = sweep.to_mlflow(experiment="harbour", tracking_uri=uri)
    assert len(_runs(client, export.experiment_id)) == 3  # no new runs
    assert (again.parent_run_id, again.runs) == (export.parent_run_id, export.runs)
    assert client.get_run(export.runs[1]).data.metrics["rating"] == 2  # updated
    assert len(client.get_metric_history(export.runs[0], "motion")) == 1  # an unchanged metric is not logged again
    sweep.rate(1, rating=None)
    _no_sentinel(sweep.run_dir.parent if store == "sqlite" else tmp_path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path):
    """A real ``mlflow server`` on a free loopback port (SQLite store, served artefacts); killed at the end."""
    _need("mlflow")
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    cmd += ["--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}"]
    cmd += ["--artifacts-destination", str(tmp_path / "server-artifacts")]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "mlflow server did not start: " + (tmp_path / "server.log").read_text(errors="replace")[-2000:]
                )
            time.sleep(0.25)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=20)
        log.close()


def _content_type(url: str, run_id: str, path: str) -> str:
    with urllib.request.urlopen(f"{url}/get-artifact?path={path}&run_uuid={run_id}", timeout=30) as answer:
        return str(answer.headers["Content-Type"]).split(";")[0]


def test_mlflow_tracking_server_reads_back_with_content_types_and_no_duplicates(
    sweep, mlflow_server, tmp_path, monkeypatch, capsys
):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("FAL_KEY", SENTINEL)
    capsys.readouterr()
    export = sweep.to_mlflow(experiment="harbour", tracking_uri=mlflow_server)
    assert capsys.readouterr() == ("", "")  # not MLflow's two "View run ... at" lines per run
    client = MlflowClient(tracking_uri=mlflow_server)
    _check_mlflow(client, export, sweep)
    take = client.get_run(export.runs[0]).data.tags
    assert _content_type(mlflow_server, export.runs[0], take["sd.video_artifact"]) == "video/mp4"
    assert _content_type(mlflow_server, export.runs[0], take["sd.poster_artifact"]) == "image/jpeg"
    assert _content_type(mlflow_server, export.runs[0], take["sd.filmstrip_artifact"]) == "image/jpeg"
    assert _content_type(mlflow_server, export.parent_run_id, "report.html") == "text/html"
    sweep.to_mlflow(experiment="harbour", tracking_uri=mlflow_server)
    assert len(_runs(client, export.experiment_id)) == 3
    _no_sentinel(tmp_path)


def test_a_missing_exporter_names_its_extra(sweep, monkeypatch):
    import seedance_nb as sd

    monkeypatch.setitem(sys.modules, "mlflow", None)  # an import of it now fails, as when it is not installed
    with pytest.raises(sd.MissingExtra, match=r"pip install 'seedance-nb\[mlflow\]'"):
        sweep.to_mlflow(experiment="harbour")
    with pytest.raises(ImportError):  # MissingExtra is an ImportError too
        sd.to_mlflow(sweep)
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(sd.MissingExtra, match=r"pip install 'seedance-nb\[wandb\]'"):
        sweep.to_wandb(project="harbour")


def _wandb_records(path: Path):
    """The protobuf records of an offline run's ``.wandb`` file (wandb's own ``Record``; the file is a LevelDB-style
    log: a 7-byte header, then 32 KiB blocks of chunks, each with a 7-byte header of crc, length and type)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = pb.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def test_wandb_offline_run_holds_the_table_original_videos_and_summary(sweep, tmp_path, monkeypatch):
    _need("wandb")
    import json

    import av

    monkeypatch.setenv("FAL_KEY", SENTINEL)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name, sub in (("WANDB_DIR", "wandb"), ("WANDB_DATA_DIR", "data"), ("WANDB_CACHE_DIR", "cache")):
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    run = sweep.to_wandb(project="harbour")
    df = sweep.df
    (run_dir,) = (tmp_path / "wandb" / "wandb").glob(f"offline-run-*-{run.id}")
    (table_file,) = (run_dir / "files" / "media" / "table").glob("takes_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"] == ["video", *df.columns]
    column = table["columns"].index
    got = {row[column("job")]: row for row in table["data"]}
    for want in df.to_dict("records"):
        row = got[want["job"]]
        assert row[column("prompt")] == want["prompt"] and row[column("request_id")] == want["request_id"]
        assert row[column("cost_usd")] == pytest.approx(want["cost_usd"])
        assert row[column("camera_adherence")] == want["camera_adherence"]
    records = list(_wandb_records(next(run_dir.glob("run-*.wandb"))))
    summary = {
        item.key: json.loads(item.value_json)
        for rec in records
        if rec.HasField("summary")
        for item in rec.summary.update
    }
    assert summary["jobs"] == 2 and summary["total_cost_usd"] == pytest.approx(df["cost_usd"].sum())
    staged = {
        Path(entry.path).name: Path(entry.local_path)
        for rec in records
        if rec.HasField("artifact")
        for entry in rec.artifact.manifest.contents
        if entry.path.startswith("media/videos/")
    }
    for want in df.to_dict("records"):  # the original files, byte for byte: no re-encoding, their own frame rate
        original = Path(want["path"])
        assert staged[original.name].read_bytes() == original.read_bytes()
        with av.open(str(staged[original.name])) as container:
            assert float(container.streams.video[0].average_rate) == want["fps"]
    again = sweep.to_wandb(project="harbour")
    assert again.id == run.id  # the same run (the sweep's key), updated
    _no_sentinel(tmp_path)


def test_a_bad_tracker_name_is_an_input_error_naming_the_argument(sweep):
    import seedance_nb as sd

    with pytest.raises(sd.InputError) as caught:
        sweep.to_mlflow(experiment="  ")
    assert caught.value.fields == ("experiment",) and "non-empty name" in str(caught.value)
    with pytest.raises(sd.InputError) as caught:
        sweep.to_wandb(project=3)
    assert caught.value.fields == ("project",)

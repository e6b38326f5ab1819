"""The command line a newcomer meets in the first hour (issue 27): sweep's --resolution / --aspect-ratio /
--image sample, report --out into a missing folder, an image that is not one, counts with their noun, the
emulator's options and the lines that point a notebook at it, sample-image, and the catalog's tables.

Runs in-process (``seedance_nb.cli.main``) against the session emulator over loopback HTTP, reached the way the
emulator command tells a user to (``SEEDANCE_EMULATOR_URL``); its clips are the 64x36 ``tiny`` ones here, since
what was sent is read from the journal (the frame sizes of full renders are checked in test_cli_inprocess)."""

from __future__ import annotations

import io
import re

import av
import pytest
from PIL import Image

import seedance_nb as sd
from seedance_nb._text import plural, reason
from seedance_nb.cli import main
from seedance_nb.emulator import EmulatorConfig
from seedance_nb.emulator.options import usage_lines
from seedance_nb.endpoints import ASPECT_RATIOS, RESOLUTIONS
from seedance_nb.errors import ConfigurationError, DownloadError, InputError
from seedance_nb.files import load_image
from seedance_nb.media import probe
from seedance_nb.samples import sample_image


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.startswith("seedance-nb: error: ") and err.count("\n") == 1, (out, err)
    assert "Traceback" not in err
    return err


@pytest.fixture
def world(emu, tmp_path, monkeypatch):
    """No FAL_KEY, the session emulator named by SEEDANCE_EMULATOR_URL (tiny clips), a fresh working folder."""
    monkeypatch.chdir(tmp_path)
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET", "SEEDANCE_RUNS", "SEEDANCE_CONFIRM_ABOVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDANCE_EMULATOR_URL", emu.base_url)
    emu.configure(render="tiny")
    return emu


# --------------------------------------------------------------------------- sweep flags


def test_resolution_and_aspect_ratio_flags_make_axes_and_the_sample_image_is_one_word(world, tmp_path, capsys):
    code, out, err = run(
        capsys, "sweep", "--image", "sample", "--prompt", "reeds sway", "--duration", "4",
        "--resolution", "480p", "--aspect-ratio", "16:9", "1:1", "--out", "flags",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("sweep: 2 videos, about $") and "backend: emulator" in out and "2/2 videos on emulator" in out
    df = sd.load_sweep(tmp_path / "flags").df  # what was sent, as the journal holds it
    assert list(df.resolution) == ["480p", "480p"] and set(df.aspect_ratio) == {"1:1", "16:9"}
    assert set(df.image) == {"sample.png"}  # --image sample: the bundled image
    assert world.stats()["submissions"] == 2
    for video in (tmp_path / "flags" / "videos").glob("*.mp4"):
        with av.open(str(video)) as container:
            assert container.streams.video  # real MP4s came back

    # report --out into a folder that does not exist: refused, naming --out; nothing is created
    err = usage_error(capsys, "report", "flags", "--out", str(tmp_path / "no" / "such" / "r.html"))
    assert "--out" in err and "does not exist" in err and "mkdir -p" in err
    assert not (tmp_path / "no").exists()
    err = usage_error(capsys, "report", "flags", "--out", str(tmp_path))
    assert "is a folder" in err
    code, out, _ = run(capsys, "report", "flags", "--out", str(tmp_path / "sent.html"))
    assert code == 0 and (tmp_path / "sent.html").is_file()


@pytest.mark.parametrize(
    ("argv", "fix"),
    [
        (["--resolution", "1080p"], "--resolution 1080p is not offered by bytedance/seedance-2.0/fast/image-to-video"),
        (["--resolution", "480p", "4K"], "--resolution 4K is not offered"),
        (["--aspect-ratio", "2:1"], "--aspect-ratio 2:1 is not offered"),
    ],
)
def test_a_value_the_endpoint_does_not_offer_is_refused_naming_the_flag_and_every_allowed_value(
    world, capsys, argv, fix
):
    err = usage_error(capsys, "sweep", "--image", "sample", "--prompt", "a", *argv)
    assert fix in err
    offered = RESOLUTIONS if "--resolution" in argv else ASPECT_RATIOS
    assert f"pass one of {', '.join(offered)}" in err  # the endpoint's own values, from its schema
    assert world.stats()["submissions"] == 0


def test_sweep_help_lists_the_endpoints_own_values(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for value in (*RESOLUTIONS, *ASPECT_RATIOS):
        assert value in text, value
    assert "--confirm-above USD" in text and "--yes" in text and "'sample'" in text


def test_a_file_that_is_not_an_image_names_the_flag_the_file_and_the_formats(world, tmp_path, capsys):
    (tmp_path / "README.md").write_text("# not a picture\n")
    err = usage_error(capsys, "sweep", "--image", "README.md", "--prompt", "a")
    assert "--image: README.md is not a readable image (not in any image format" in err and "JPEG, PNG or WebP" in err
    assert "0x" not in err and "BytesIO" not in err and "<" not in err
    err = usage_error(capsys, "sweep", "--image", "README.md", "--prompt", "a", "--set", "resolutoin=480p")
    assert "--set resolutoin: unknown field 'resolutoin'" in err  # every problem names what was written
    assert world.stats()["submissions"] == 0


def test_pillow_and_pyav_errors_reach_users_without_reprs_or_error_numbers(tmp_path):
    with pytest.raises(InputError) as info:
        load_image(b"not an image at all", field="end_image_url")
    assert "end_image_url" in str(info.value) and " at 0x" not in str(info.value)
    png = io.BytesIO()
    Image.new("RGB", (640, 360), (10, 20, 30)).save(png, "PNG")
    with pytest.raises(InputError) as info:
        load_image(png.getvalue()[:200])  # a PNG cut short
    assert "is not a readable image" in str(info.value) and " at 0x" not in str(info.value)

    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"no video here" * 20)

    with pytest.raises(DownloadError) as video:
        probe(fake)
    text = str(video.value)
    assert text.startswith("fake.mp4 is not a readable video (") and "[Errno" not in text and str(fake) not in text
    try:
        av.open(str(fake))
    except av.error.FFmpegError as exc:
        assert reason(exc) == "Invalid data found when processing input"
    assert reason(OSError("cannot identify image file <_io.BytesIO object at 0x7f9222151ee0>")) == (
        "cannot identify image file"
    )
    assert reason(ValueError("")) == "ValueError"


# --------------------------------------------------------------------------- counts


def test_counts_take_their_noun_in_the_number_they_are(png_path, client):
    assert [plural(n, "video") for n in (0, 1, 2)] == ["0 videos", "1 video", "2 videos"]
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"
    grid = sd.Grid(image=png_path, prompt="a", duration=4, resolution="480p")
    assert str(grid.estimate()).startswith("1 video, about $") and "1 job" in repr(grid)
    with pytest.raises(sd.BudgetExceeded, match=r"^1 video may cost up to"):
        sd.run_sweep(grid, client=client, budget_usd=0.01)


def test_the_cli_says_1_video(world, capsys):
    code, out, err = run(
        capsys, "sweep", "--image", "sample", "--prompt", "a", "--duration", "4", "--resolution", "480p", "--out", "one"
    )
    assert code == 0, err
    assert out.startswith("sweep: 1 video, about $") and "1/1 video on emulator" in out
    assert "1 videos" not in out and "(s)" not in out
    assert re.search(r"^ +#0 +completed .* \$0 ", out, re.M)  # the emulator bills nothing


# --------------------------------------------------------------------------- the emulator command


@pytest.mark.parametrize(
    ("argv", "fix"),
    [
        (["--speed", "-1"], "--speed must be 0 or more"),
        (["--speed", "fast"], "--speed takes a number"),
        (["--rate-429", "2"], "--rate-429 must be a fraction 0..1"),
        (["--rate-drop", "-0.1"], "--rate-drop must be a fraction 0..1"),
        (["--rate-slow", "nan"], "--rate-slow must be a fraction 0..1"),
        (["--slots", "-2"], "--slots must be at least 1"),
        (["--result-ttl", "-5"], "--result-ttl must be 0 or more seconds"),
        (["--cdn-token-ttl", "0"], "--cdn-token-ttl must be more than 0 seconds"),
        (["--fault-seed", "lucky"], "--fault-seed takes a whole number"),
    ],
)
def test_emulator_options_out_of_range_are_refused_naming_the_option(capsys, argv, fix):
    err = usage_error(capsys, "emulator", *argv)
    assert fix in err and "seedance-nb emulator --help" in err


def test_emulator_help_explains_every_option_and_config_refuses_the_same(capsys):
    with pytest.raises(SystemExit) as info:
        main(["emulator", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--fault-seed FAULT_SEED seed of the random faults" in text
    for option in ("--rate-429", "--rate-moderation", "--result-ttl", "--cdn-token-ttl", "--fetch-host"):
        assert option in text
    for bad in ({"speed": -1}, {"rate_429": 2}, {"rate_drop": float("nan")}, {"queue_latency": -1}):
        with pytest.raises(ValueError, match="must be"):
            EmulatorConfig().update(**bad)


def test_the_lines_the_emulator_prints_point_a_notebook_at_it(emu, png_path):
    lines = "\n".join(usage_lines(emu.base_url))
    assert f"%env SEEDANCE_EMULATOR_URL={emu.base_url}" in lines
    assert f"export SEEDANCE_EMULATOR_URL={emu.base_url}" in lines
    python = re.search(r"python: +(client = sd\.connect\(.*?\))", lines)
    assert python, lines
    scope: dict = {"sd": sd}
    exec(python.group(1), scope)  # the line as a user pastes it
    client = scope["client"]
    assert client.backend == "emulator" and client.queue_url == emu.queue_url
    emu.configure(render="tiny")
    sweep = sd.run_sweep(sd.Grid(image=png_path, prompt="a", duration=4, resolution="480p"), client=client)
    assert sweep.counts().get("completed") == 1 and emu.stats()["submissions"] == 1


def test_connect_to_an_emulator_url_refuses_what_would_go_wrong(monkeypatch):
    monkeypatch.setenv("FAL_KEY", "fake0000-key0-id00-0000-000000000000:fakesecret0000000000000000000000")
    with pytest.raises(ConfigurationError, match="another machine and FAL_KEY is set"):
        sd.connect("emulator", url="http://10.1.2.3:8787", quiet=True)
    assert sd.connect("emulator", url="http://10.1.2.3:8787", key="emu-key", quiet=True).backend == "emulator"
    with pytest.raises(ConfigurationError, match="http"):
        sd.connect("emulator", url="127.0.0.1:8787", quiet=True)
    with pytest.raises(ConfigurationError, match="always reaches fal"):
        sd.connect("fal", url="http://127.0.0.1:8787", quiet=True)


# --------------------------------------------------------------------------- sample-image


def test_sample_image_writes_the_bundled_image_and_never_overwrites(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "sample-image", "start.png")
    assert code == 0 and (tmp_path / "start.png").read_bytes() == sample_image().read_bytes()
    assert "seedance-nb sweep --image start.png" in out
    (tmp_path / "pics").mkdir()
    code, out, _ = run(capsys, "sample-image", "pics")
    assert code == 0 and (tmp_path / "pics" / "sample.png").is_file()
    err = usage_error(capsys, "sample-image", "start.png")
    assert "already exists" in err and "nothing was overwritten" in err
    err = usage_error(capsys, "sample-image", "missing/start.png")
    assert "does not exist" in err and not (tmp_path / "missing").exists()


# --------------------------------------------------------------------------- catalog tables


def test_catalog_tables_show_money_and_times_as_people_write_them(world, tmp_path, capsys):
    assert main(["sweep", "--image", "sample", "--prompt", "kept", "--duration", "4", "--resolution", "480p",
                 "--out", "sweeps/mine"]) == 0  # fmt: skip
    capsys.readouterr()
    base = ["catalog", "--root", str(tmp_path / "sweeps"), "--url", f"sqlite:///{tmp_path / 'cat.sqlite'}"]
    code, out, _ = run(capsys, *base, "search", "kept")
    assert code == 0 and "kept" in out
    assert re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d ", out) and not re.search(r"\d\d:\d\d:\d\d\.\d+", out), out
    assert "<NA>" not in out and "nan" not in out.lower()
    code, out, _ = run(capsys, *base, "spend", "--by", "sweep", "--emulated")
    assert code == 0 and re.search(r"\$\d+\.\d\d\b", out) and not re.search(r"\d\.\d{3}", out), out

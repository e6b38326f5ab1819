"""The stylesheet and the inline scripts: synced playback and sortable tables."""

from __future__ import annotations

from .._names import set_public_module
from ._text import script_json

# --------------------------------------------------------------------------- styles and sync script

CSS = """<style>
.sd-out{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:inherit;
max-width:100%;overflow-x:auto;box-sizing:border-box}
.sd-out *,.sd-out *::before,.sd-out *::after{box-sizing:border-box}
.sd-media{position:relative;width:100%;background:#000;border-radius:4px;overflow:hidden}
.sd-media>video{position:relative;z-index:1;display:block;width:100%;height:100%;max-width:none;
object-fit:contain;background:transparent;border-radius:4px}
.sd-media>img.sd-poster{position:absolute;inset:0;width:100%;height:100%;object-fit:contain;display:block}
.sd-out table.sd-grid{border-collapse:separate;border-spacing:6px;margin:0;table-layout:fixed;width:100%;
border:none;font-size:inherit}
.sd-out table.sd-grid tr,.sd-out table.sd-grid tbody tr:nth-child(odd){background:transparent}
.sd-out table.sd-grid th{font-weight:600;text-align:left;vertical-align:bottom;padding:2px 4px;
overflow-wrap:anywhere;border:none}
.sd-out table.sd-grid th.sd-rowhead{vertical-align:top;font-weight:500;white-space:normal}
.sd-out table.sd-grid td.sd-cell{vertical-align:top;padding:0;text-align:left;border:none}
.sd-takes{display:flex;gap:6px;flex-wrap:nowrap}
.sd-fig{margin:0;flex:1 1 0;min-width:0;width:100%}
.sd-fig figcaption,.sd-cap{font-size:11.5px;opacity:.85;margin-top:2px;max-width:100%;overflow-wrap:anywhere}
.sd-job{font-weight:700;margin-right:4px}
.sd-vary{display:block;font-weight:600}
.sd-k{opacity:.65;font-weight:400}
.sd-slot{min-height:80px;width:100%;border:1px dashed rgba(128,128,128,.45);border-radius:4px;
display:flex;align-items:center;justify-content:center;opacity:.7;font-size:12px;padding:6px;box-sizing:border-box;
text-align:center}
.sd-error{border-color:rgba(200,40,40,.7);color:#c62828;opacity:1;white-space:pre-wrap;word-break:break-word;
align-items:flex-start;justify-content:flex-start}
.sd-status{font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.sd-syncbar{display:flex;gap:8px;align-items:center;margin:4px 6px;flex-wrap:wrap}
.sd-syncbar[hidden]{display:none}
.sd-syncbar button{font:inherit;padding:2px 10px;border-radius:4px;border:1px solid rgba(128,128,128,.6);
background:transparent;color:inherit;cursor:pointer}
.sd-syncbar input{flex:1;min-width:120px;max-width:600px}
.sd-time{font-variant-numeric:tabular-nums;min-width:110px}
.sd-summary{display:flex;flex-wrap:wrap;gap:6px;margin:4px 6px;align-items:center}
.sd-chip{border:1px solid rgba(128,128,128,.45);border-radius:10px;padding:1px 8px}
.sd-chip b{font-weight:600}
.sd-backend{font-weight:600}
.sd-completed,.sd-cached{color:#2e7d32}.sd-failed{color:#c62828}.sd-cancelled{color:#8d6e63}
.sd-running,.sd-queued,.sd-submitted,.sd-planned,.sd-submitting,.sd-downloading{color:#1565c0}
.sd-compare{display:flex;gap:12px;flex-wrap:nowrap;margin:6px}
.sd-compare .sd-fig{flex:1 1 0}
.sd-compare .sd-title{font-weight:600;margin-bottom:3px;max-width:100%;overflow-wrap:anywhere}
</style>"""

_SYNC_JS = """(function () {
  var root = document.getElementById(%s);
  if (!root || root.getAttribute("data-sd-synced")) return;
  root.setAttribute("data-sd-synced", "1");
  var vids = Array.prototype.slice.call(root.querySelectorAll("video"));
  var bar = root.querySelector(".sd-syncbar");
  if (!vids.length || !bar) return;
  var lead = vids[0], btn = bar.querySelector("button"), seek = bar.querySelector("input");
  var label = bar.querySelector(".sd-time"), dragging = false;
  function quiet(p) { if (p && p.catch) p.catch(function () {}); }
  vids.forEach(function (v, i) { v.muted = true; v.autoplay = false; if (i) v.loop = false; });
  bar.hidden = false;
  function fmt(t) {
    t = isFinite(t) ? t : 0;
    var m = Math.floor(t / 60), s = t - 60 * m;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }
  function follow() {
    for (var i = 1; i < vids.length; i++) {
      var v = vids[i], d = v.duration, t = isFinite(d) ? Math.min(lead.currentTime, d) : lead.currentTime;
      // 0.1 s of drift while playing; a frame when paused, so paused frames can be compared
      if (Math.abs(v.currentTime - t) > (lead.paused ? 0.04 : 0.1)) v.currentTime = t;
      if (lead.paused || (isFinite(d) && lead.currentTime >= d)) { if (!v.paused) v.pause(); }
      else if (v.paused) quiet(v.play());
    }
  }
  function show() {
    var d = lead.duration;
    if (!dragging && isFinite(d) && d > 0) seek.value = Math.round(lead.currentTime / d * 1000);
    label.textContent = fmt(lead.currentTime) + " / " + fmt(d);
    btn.textContent = lead.paused ? "\\u25B6 Play all" : "\\u275A\\u275A Pause all";
  }
  btn.addEventListener("click", function () { if (lead.paused) quiet(lead.play()); else lead.pause(); });
  seek.addEventListener("input", function () {
    dragging = true;
    if (isFinite(lead.duration)) lead.currentTime = seek.value / 1000 * lead.duration;
    follow(); show();
  });
  seek.addEventListener("change", function () { dragging = false; });
  ["play", "pause", "seeked", "timeupdate", "loadedmetadata", "ended"].forEach(function (e) {
    lead.addEventListener(e, function () { follow(); show(); });
  });
  show();
})();"""


def sync_controls(container_id: str) -> tuple[str, str]:
    """The hidden control bar and the inline script that wires it to the videos inside ``container_id``."""
    bar = (
        '<div class="sd-syncbar" hidden><button type="button">▶ Play all</button>'
        '<input type="range" min="0" max="1000" step="1" value="0" aria-label="Seek all videos">'
        '<span class="sd-time">0:00.0 / 0:00.0</span></div>'
    )
    return bar, f"<script>{_SYNC_JS % script_json(container_id)}</script>"


# --------------------------------------------------------------------------- tables


def sortable_table_script(table_id: str) -> str:
    """A small script that sorts the table ``table_id`` by a clicked header (numbers by ``data-v``), shared by
    the report's jobs table and the metrics section."""
    return _SORTABLE_TEMPLATE.replace("__TABLE_ID__", table_id)


_SORTABLE_TEMPLATE = """<script>(function () {
  var table = document.getElementById("__TABLE_ID__");
  if (!table) return;
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var num = th.getAttribute("data-type") === "num", body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
        if (x === "" || y === "") return x === y ? 0 : (x === "" ? 1 : -1);
        var c = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, undefined, {numeric: true});
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();</script>"""


set_public_module(__name__)

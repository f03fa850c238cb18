"""A self-contained HTML page that colours each token by one unit's activation.

The page embeds everything (no network access): the tokens, every recorded signal as
base64 int8 (values in [-1, 1] times 127; the cell state is shown as ``tanh(c)``, as in
Karpathy et al. 2015), a selector for layer, signal and unit, the units that track simple
text features (click one to show it) and the gate-saturation table.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from rnnkit.diagnostics.activations import Recording, feature_correlations, gate_saturation
from rnnkit.outputs import atomic_write_text

SIGNED = ("h", "c", "candidate")  # in [-1, 1]; the gates are in [0, 1]


def _encode(values: np.ndarray) -> str:
    q = np.clip(np.round(values * 127), -127, 127).astype(np.int8)
    return base64.b64encode(q.tobytes()).decode("ascii")


def page_data(rec: Recording) -> dict:
    layers = []
    for sig in rec.signals:
        entry = {}
        for name, v in sig.items():
            shown = np.tanh(v) if name == "c" else v
            entry[name] = {"data": _encode(shown), "units": int(v.shape[1]), "signed": name in SIGNED}
        layers.append(entry)
    return {"tokens": rec.tokens, "sep": "" if rec.level == "char" else " ", "layers": layers, "cell": rec.cell_type,
            "ranking": feature_correlations(rec), "saturation": gate_saturation(rec)}


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
#text { font-family: ui-monospace, monospace; white-space: pre-wrap; line-height: 1.55; border: 1px solid #ccc;
        padding: .8em; max-width: 70em; }
#text span { padding: 0 0; }
.controls label { margin-right: 1em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
td, th { border: 1px solid #ddd; padding: .2em .6em; text-align: right; }
tr.pick { cursor: pointer; } tr.pick:hover { background: #eef; }
.legend { font-size: .9em; color: #555; }
</style></head><body>
<h1>__TITLE__</h1>
<p class="legend">A __CELL__ language model reading the text below. Each token is coloured by the chosen unit's
value: red positive, blue negative (hidden state h, tanh of the memory cell c, candidate), green for gates
(0 to 1). Hover a token for the exact value.</p>
<div class="controls">
<label>layer <select id="layer"></select></label>
<label>signal <select id="signal"></select></label>
<label>unit <input id="unit" type="number" min="0" value="0" style="width:5em"></label>
<button id="prev">&larr;</button> <button id="next">&rarr;</button>
<span id="info"></span>
</div>
<div id="text"></div>
<h2>Units that track features of the text</h2>
<table id="ranking"><thead><tr><th>feature</th><th>layer</th><th>signal</th><th>unit</th><th>correlation</th></tr></thead>
<tbody></tbody></table>
<h2>Gate saturation</h2>
<table id="saturation"><thead><tr><th>layer</th><th>gate</th><th>near 0 (&lt;0.1)</th><th>near 1 (&gt;0.9)</th>
<th>mean</th></tr></thead><tbody></tbody></table>
<script id="payload" type="application/json">__DATA__</script>
<script>
const D = JSON.parse(document.getElementById('payload').textContent);
const cache = {};
function values(layer, signal) {
  const key = layer + '/' + signal;
  if (!cache[key]) {
    const raw = atob(D.layers[layer][signal].data);
    const arr = new Int8Array(raw.length);
    for (let i = 0; i < raw.length; i++) arr[i] = (raw.charCodeAt(i) << 24) >> 24;
    cache[key] = arr;
  }
  return cache[key];
}
const layerSel = document.getElementById('layer'), signalSel = document.getElementById('signal');
const unitIn = document.getElementById('unit'), textDiv = document.getElementById('text');
D.layers.forEach((_, i) => layerSel.add(new Option(String(i + 1), i)));
function fillSignals() {
  const keep = signalSel.value;
  signalSel.innerHTML = '';
  Object.keys(D.layers[layerSel.value]).forEach(s => signalSel.add(new Option(s, s)));
  if (keep && D.layers[layerSel.value][keep]) signalSel.value = keep;
}
const spans = D.tokens.map(t => { const s = document.createElement('span'); s.textContent = t; return s; });
spans.forEach((s, i) => { if (i && D.sep) textDiv.appendChild(document.createTextNode(D.sep)); textDiv.appendChild(s); });
function render() {
  const L = +layerSel.value, S = signalSel.value, entry = D.layers[L][S];
  const H = entry.units; let u = Math.max(0, Math.min(H - 1, +unitIn.value || 0)); unitIn.value = u;
  unitIn.max = H - 1;
  const v = values(L, S);
  for (let t = 0; t < spans.length; t++) {
    const x = v[t * H + u] / 127;
    let c;
    if (entry.signed) c = x >= 0 ? `rgba(220,40,40,${x.toFixed(3)})` : `rgba(40,90,220,${(-x).toFixed(3)})`;
    else c = `rgba(30,160,60,${x.toFixed(3)})`;
    spans[t].style.background = c;
    spans[t].title = `${S}[${u}] = ${x.toFixed(3)}`;
  }
  document.getElementById('info').textContent = `${H} units`;
}
layerSel.onchange = () => { fillSignals(); render(); };
signalSel.onchange = render; unitIn.oninput = render;
document.getElementById('prev').onclick = () => { unitIn.value = +unitIn.value - 1; render(); };
document.getElementById('next').onclick = () => { unitIn.value = +unitIn.value + 1; render(); };
const rtb = document.querySelector('#ranking tbody');
D.ranking.forEach(r => {
  const tr = rtb.insertRow(); tr.className = 'pick';
  [r.feature, r.layer + 1, r.signal, r.unit, r.r.toFixed(3)].forEach(x => tr.insertCell().textContent = x);
  tr.onclick = () => { layerSel.value = r.layer; fillSignals(); signalSel.value = r.signal; unitIn.value = r.unit;
                       render(); window.scrollTo(0, 0); };
});
const stb = document.querySelector('#saturation tbody');
D.saturation.forEach(r => {
  const tr = stb.insertRow();
  [r.layer + 1, r.gate, (100 * r.near_0).toFixed(1) + ' %', (100 * r.near_1).toFixed(1) + ' %', r.mean.toFixed(3)]
    .forEach(x => tr.insertCell().textContent = x);
});
fillSignals();
if (D.ranking.length) { const r = D.ranking[0]; layerSel.value = r.layer; fillSignals(); signalSel.value = r.signal;
                        unitIn.value = r.unit; }
render();
document.body.dataset.ready = '1';
</script></body></html>
"""


def write_activation_page(rec: Recording, path: str | Path, title: str = "Inside the recurrent network") -> Path:
    """Write the page for ``rec`` to ``path``; it opens offline in any browser."""
    data = json.dumps(page_data(rec)).replace("</", "<\\/")  # keep "</script>" in tokens from closing the tag
    page = TEMPLATE.replace("__TITLE__", html.escape(title)).replace("__CELL__", html.escape(rec.cell_type.upper()))
    page = page.replace("__DATA__", data)
    path = Path(path)
    atomic_write_text(path, page)
    return path

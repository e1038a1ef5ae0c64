/* logferry explorer — the page logferry-store serves at "/".
 *
 * Plain browser JavaScript, no framework and no build step. It only calls the
 * store's own API (query_range, labels, label values, tail). Every label and
 * line is inserted with textContent or createTextNode, never as HTML.
 */
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const SVGNS = 'http://www.w3.org/2000/svg';
  /* lines per request: Grafana's default 1000, or the URL's &limit= (at most
   * 5000, Loki's max_entries_limit_per_query) */
  let PAGE = 1000;
  const MAX_ROWS = 5000;      /* rows kept while live-tailing */
  const HISTORY_KEY = 'logferry.explorer.history';
  const TENANT_KEY = 'logferry.explorer.tenant';
  const RANGES = { '5m': 300, '15m': 900, '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800 };
  const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
    43200, 86400, 172800, 604800];

  const state = {
    gen: 0,            /* bumps on every run: stale answers are ignored */
    query: '',
    startNs: 0n, endNs: 0n,
    oldestNs: null,    /* paging cursor for older lines */
    hasMore: false, loading: false,
    seen: new Set(),   /* ts+stream+line of rows shown (paging overlaps by one ns) */
    common: null,      /* labels equal in every stream of the first page */
    rows: 0,
    labelSel: new Map(), /* label name -> Set of chosen values */
    ws: null, paused: false, pending: [], arrivals: [], rateTimer: null,
  };

  /* ---------- small helpers ---------- */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function tenant() { return $('tenant').value.trim(); }
  function nowNs() { return BigInt(Date.now()) * 1000000n; }
  function parseDur(s) {
    const m = /^(\d+)([smhdw])$/.exec(s || '');
    if (!m) return null;
    return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]];
  }
  function rfc3339(ms) { return new Date(ms).toISOString().replace('.000Z', 'Z'); }
  function pad(n, w) { return String(n).padStart(w || 2, '0'); }
  function fmtTime(ns) {
    const ms = Number(ns / 1000000n);
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' +
      pad(d.getMilliseconds(), 3);
  }
  function fmtTick(sec, span) {
    const d = new Date(sec * 1000);
    const hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    if (span > 2 * 86400) return pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + hm;
    if (span < 300) return hm + ':' + pad(d.getSeconds());
    return hm;
  }
  function fmtNum(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
    if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
    if (a === 0 || a >= 1) return String(Math.round(v * 100) / 100);
    return v.toPrecision(2);
  }
  function labelText(obj) {
    const keys = Object.keys(obj).sort();
    return '{' + keys.map((k) => k + '=' + JSON.stringify(obj[k])).join(', ') + '}';
  }
  function isLogQuery(q) { return q.trimStart().startsWith('{'); }
  function stepFor(seconds, maxPoints) {
    for (const s of STEPS) if (seconds / s <= maxPoints) return s;
    return STEPS[STEPS.length - 1];
  }
  function setError(msg) {
    const e = $('error');
    e.hidden = !msg;
    e.textContent = msg || '';
  }
  function setStatus(msg) { $('status').textContent = msg || ''; }

  /* Calls the store's API; resolves to the parsed JSON, rejects with the
   * store's own error text (Loki answers errors as plain text). */
  async function api(path, params) {
    const url = path + '?' + new URLSearchParams(params).toString();
    const headers = {};
    if (tenant()) headers['X-Scope-OrgID'] = tenant();
    const r = await fetch(url, { headers });
    const text = await r.text();
    if (!r.ok) throw new Error(text.trim() || (r.status + ' ' + r.statusText));
    try { return JSON.parse(text); } catch (e) { throw new Error('bad JSON from ' + path + ': ' + e.message); }
  }

  /* ---------- time range and URL state ---------- */
  function currentRange() {
    const sel = $('range').value;
    if (sel === 'abs') {
      const f = Date.parse($('from').value.trim()), t = Date.parse($('to').value.trim());
      if (isNaN(f) || isNaN(t)) throw new Error('From and To must be RFC 3339 times, e.g. 2026-01-02T15:04:05Z');
      if (f >= t) throw new Error('From must be before To');
      return { startNs: BigInt(f) * 1000000n, endNs: BigInt(t) * 1000000n };
    }
    const secs = RANGES[sel] || parseDur(sel) || 3600;
    const end = nowNs();
    return { startNs: end - BigInt(secs) * 1000000000n, endNs: end };
  }
  function ensureRangeOption(v) {
    const r = $('range');
    if ([...r.options].some((o) => o.value === v)) return;
    const o = el('option', null, 'Last ' + v);
    o.value = v;
    r.insertBefore(o, r.querySelector('option[value="abs"]'));
  }
  function writeUrl() {
    const p = new URLSearchParams();
    p.set('query', $('query').value.trim());
    if (PAGE !== 1000) p.set('limit', String(PAGE));
    if ($('range').value === 'abs') {
      p.set('from', $('from').value.trim());
      p.set('to', $('to').value.trim());
    } else {
      p.set('since', $('range').value);
    }
    history.replaceState(null, '', '/?' + p.toString());
  }
  function readUrl() {
    const p = new URLSearchParams(location.search);
    if (p.get('from') && p.get('to')) {
      $('range').value = 'abs';
      $('from').value = p.get('from');
      $('to').value = p.get('to');
    } else if (p.get('since')) {
      const s = p.get('since');
      if (RANGES[s] || parseDur(s)) { ensureRangeOption(s); $('range').value = s; }
    }
    $('abs-range').hidden = $('range').value !== 'abs';
    if (p.get('query')) $('query').value = p.get('query');
    const lim = Number(p.get('limit'));
    if (Number.isInteger(lim) && lim > 0) PAGE = Math.min(lim, 5000);
    return !!p.get('query');
  }

  /* ---------- query history (browser local storage) ---------- */
  function loadHistory() {
    try { return JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]').filter((x) => typeof x === 'string'); } catch (e) { return []; }
  }
  function saveHistory(q) {
    const h = [q].concat(loadHistory().filter((x) => x !== q)).slice(0, 30);
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(h)); } catch (e) { /* private mode */ }
    renderHistory(h);
  }
  function renderHistory(h) {
    const s = $('history');
    s.textContent = '';
    const first = el('option', null, h.length ? 'Previous queries…' : '—');
    first.value = '';
    s.appendChild(first);
    for (const q of h) {
      const o = el('option', null, q.length > 90 ? q.slice(0, 87) + '…' : q);
      o.value = q;
      s.appendChild(o);
    }
  }

  /* ---------- label browser ---------- */
  async function loadLabelNames() {
    const box = $('label-names');
    let r;
    try { r = currentRange(); } catch (e) { return; }
    try {
      const j = await api('/loki/api/v1/labels', { start: r.startNs.toString(), end: r.endNs.toString() });
      box.textContent = '';
      for (const name of j.data || []) {
        const li = el('li');
        const b = el('button', null, name);
        b.type = 'button';
        b.dataset.name = name;
        b.setAttribute('aria-selected', state.labelSel.has(name) ? 'true' : 'false');
        b.addEventListener('click', () => showValues(name, b));
        li.appendChild(b);
        box.appendChild(li);
      }
      $('labels-error').hidden = true;
    } catch (e) {
      $('labels-error').hidden = false;
      $('labels-error').textContent = e.message;
    }
  }
  async function showValues(name, btn) {
    for (const b of $('label-names').querySelectorAll('button')) b.classList.toggle('open', b === btn);
    const box = $('label-values');
    const r = currentRange();
    try {
      const j = await api('/loki/api/v1/label/' + encodeURIComponent(name) + '/values',
        { start: r.startNs.toString(), end: r.endNs.toString() });
      $('values-title').hidden = false;
      $('values-title').textContent = 'Values of ' + name;
      box.textContent = '';
      const chosen = state.labelSel.get(name) || new Set();
      for (const v of j.data || []) {
        const li = el('li');
        const b = el('button', null, v);
        b.type = 'button';
        b.dataset.value = v;
        b.setAttribute('aria-selected', chosen.has(v) ? 'true' : 'false');
        b.addEventListener('click', () => toggleValue(name, v, b));
        li.appendChild(b);
        box.appendChild(li);
      }
      const first = box.querySelector('button');
      if (first && document.activeElement === btn) first.focus();
    } catch (e) {
      $('labels-error').hidden = false;
      $('labels-error').textContent = e.message;
    }
  }
  function toggleValue(name, value, btn) {
    const set = state.labelSel.get(name) || new Set();
    if (set.has(value)) set.delete(value); else set.add(value);
    if (set.size) state.labelSel.set(name, set); else state.labelSel.delete(name);
    btn.setAttribute('aria-selected', set.has(value) ? 'true' : 'false');
    const nb = $('label-names').querySelector('button[data-name="' + CSS.escape(name) + '"]');
    if (nb) nb.setAttribute('aria-selected', set.size ? 'true' : 'false');
    applySelector();
  }
  function reEscape(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }
  function buildSelector() {
    const parts = [];
    for (const [name, set] of state.labelSel) {
      const vals = [...set].sort();
      if (vals.length === 1) parts.push(name + '=' + JSON.stringify(vals[0]));
      else parts.push(name + '=~' + JSON.stringify(vals.map(reEscape).join('|')));
    }
    return '{' + parts.join(', ') + '}';
  }
  /* End of the leading `{...}` of a query (quotes and backticks respected), or -1. */
  function selectorEnd(q) {
    let i = q.indexOf('{');
    if (i < 0 || q.slice(0, i).trim()) return -1;
    for (i++; i < q.length; i++) {
      const c = q[i];
      if (c === '}') return i + 1;
      if (c === '"') { for (i++; i < q.length && q[i] !== '"'; i++) if (q[i] === '\\') i++; }
      else if (c === '`') { for (i++; i < q.length && q[i] !== '`'; i++); }
    }
    return -1;
  }
  function applySelector() {
    const box = $('query');
    const q = box.value;
    const sel = state.labelSel.size ? buildSelector() : '';
    const end = selectorEnd(q);
    box.value = end >= 0 ? sel + q.slice(end) : (sel + (q.trim() && !isLogQuery(q) ? '' : q));
    if (!sel && end >= 0) box.value = q.slice(end).trimStart();
  }

  /* ---------- log lines ---------- */
  const LEVELS = { error: 'error', err: 'error', eror: 'error', fatal: 'error', critical: 'error', crit: 'error',
    alert: 'error', emerg: 'error', panic: 'error', warn: 'warn', warning: 'warn', info: 'info',
    information: 'info', notice: 'info', debug: 'debug', dbug: 'debug', trace: 'debug' };
  function levelOf(labels, line) {
    let v = labels.level || labels.detected_level || labels.severity;
    if (!v) {
      const m = /\b(?:level|lvl|severity)"?\s*[:=]\s*"?([A-Za-z]+)/.exec(line.length > 400 ? line.slice(0, 400) : line);
      if (m) v = m[1];
    }
    return (v && LEVELS[v.toLowerCase()]) || 'other';
  }

  /* ANSI SGR colours become spans with classes; other escapes are dropped. */
  function renderAnsi(line, parent) {
    if (line.indexOf('\x1b') < 0) { parent.textContent = line; return; }
    const re = /\x1b\[([0-9;]*)([A-Za-z])/g;
    let st = { b: false, i: false, u: false, f: -1, g: -1 };
    let last = 0, m;
    const emit = (text) => {
      if (!text) return;
      const cls = [];
      if (st.b) cls.push('a-b');
      if (st.i) cls.push('a-i');
      if (st.u) cls.push('a-u');
      if (st.f >= 0) cls.push('a-f' + st.f);
      if (st.g >= 0) cls.push('a-g' + st.g);
      if (!cls.length) { parent.appendChild(document.createTextNode(text)); return; }
      parent.appendChild(el('span', cls.join(' '), text));
    };
    while ((m = re.exec(line)) !== null) {
      emit(line.slice(last, m.index).replace(/\x1b/g, ''));
      last = re.lastIndex;
      if (m[2] !== 'm') continue;
      const codes = m[1] === '' ? [0] : m[1].split(';').map(Number);
      for (let k = 0; k < codes.length; k++) {
        const c = codes[k];
        if (c === 0) st = { b: false, i: false, u: false, f: -1, g: -1 };
        else if (c === 1) st.b = true;
        else if (c === 3) st.i = true;
        else if (c === 4) st.u = true;
        else if (c === 22) st.b = false;
        else if (c === 23) st.i = false;
        else if (c === 24) st.u = false;
        else if (c >= 30 && c <= 37) st.f = c - 30;
        else if (c === 39) st.f = -1;
        else if (c >= 90 && c <= 97) st.f = c - 90 + 8;
        else if (c >= 40 && c <= 47) st.g = c - 40;
        else if (c === 49) st.g = -1;
        else if ((c === 38 || c === 48) && codes[k + 1] === 5) k += 2;
        else if ((c === 38 || c === 48) && codes[k + 1] === 2) k += 4;
      }
    }
    emit(line.slice(last).replace(/\x1b/g, ''));
  }

  /* Fields of a JSON object line (nested keys joined with '.') or a logfmt line. */
  function lineFields(line) {
    const t = line.trim();
    if (t.startsWith('{')) {
      try {
        const o = JSON.parse(t);
        if (o && typeof o === 'object' && !Array.isArray(o)) {
          const out = [];
          const walk = (v, p) => {
            if (v && typeof v === 'object' && !Array.isArray(v)) {
              for (const k of Object.keys(v)) walk(v[k], p ? p + '.' + k : k);
            } else {
              out.push([p, typeof v === 'string' ? v : JSON.stringify(v)]);
            }
          };
          walk(o, '');
          return out;
        }
      } catch (e) { /* not JSON: try logfmt */ }
    }
    const out = [];
    const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
    let m;
    while ((m = re.exec(t)) !== null) {
      let v = m[2];
      if (v.startsWith('"')) { try { v = JSON.parse(v); } catch (e) { v = v.slice(1, -1); } }
      out.push([m[1], v]);
    }
    return out.length ? out : null;
  }
  function toggleFields(li) {
    const btn = li.querySelector('.toggle');
    if (!btn) return;
    const open = btn.getAttribute('aria-expanded') === 'true';
    const existing = li.querySelector('.fields');
    if (open) {
      if (existing) existing.remove();
      btn.setAttribute('aria-expanded', 'false');
      btn.textContent = '▸';
      return;
    }
    const fields = lineFields(li.querySelector('.line').textContent);
    const table = el('table', 'fields');
    if (!fields) {
      const tr = el('tr');
      tr.appendChild(el('td', null, 'no JSON or logfmt fields in this line'));
      table.appendChild(tr);
    } else {
      for (const [k, v] of fields) {
        const tr = el('tr');
        tr.appendChild(el('th', null, k));
        tr.appendChild(el('td', null, v));
        table.appendChild(tr);
      }
    }
    li.appendChild(table);
    btn.setAttribute('aria-expanded', 'true');
    btn.textContent = '▾';
  }

  function makeRow(e) {
    const li = el('li', 'lv-' + levelOf(e.labels, e.line));
    li.tabIndex = 0;
    const t = e.line.trimStart();
    if (t.startsWith('{') || t.indexOf('=') > 0) {
      const b = el('button', 'toggle', '▸');
      b.type = 'button';
      b.tabIndex = -1;
      b.title = 'Show fields';
      b.setAttribute('aria-expanded', 'false');
      b.setAttribute('aria-label', 'Show fields');
      li.appendChild(b);
    } else {
      li.appendChild(el('span'));
    }
    const ts = el('time', 'ts', fmtTime(e.ts));
    ts.dateTime = new Date(Number(e.ts / 1000000n)).toISOString();
    li.appendChild(ts);
    const chips = el('span', 'chips');
    const common = state.common || {};
    for (const k of Object.keys(e.labels).sort()) {
      if (common[k] === e.labels[k]) continue;
      const c = el('span', 'chip', k + '=' + e.labels[k]);
      c.title = k + '=' + e.labels[k];
      chips.appendChild(c);
    }
    li.appendChild(chips);
    const line = el('span', 'line');
    renderAnsi(e.line, line);
    li.appendChild(line);
    return li;
  }

  function flatten(result) {
    const out = [];
    for (const s of result || []) {
      const labels = s.stream || {};
      const key = labelText(labels);
      for (const v of s.values || []) out.push({ ts: BigInt(v[0]), line: v[1], labels, key });
    }
    out.sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : 0));
    return out;
  }
  function computeCommon(result) {
    const streams = (result || []).map((s) => s.stream || {});
    if (streams.length < 2) {
      state.common = streams.length ? Object.assign({}, streams[0]) : {};
    } else {
      const c = Object.assign({}, streams[0]);
      for (const s of streams.slice(1)) for (const k of Object.keys(c)) if (s[k] !== c[k]) delete c[k];
      state.common = c;
    }
    const box = $('common-labels');
    box.textContent = '';
    const keys = Object.keys(state.common).sort();
    box.hidden = !keys.length;
    if (keys.length) {
      box.appendChild(document.createTextNode('Common labels: '));
      for (const k of keys) box.appendChild(el('span', 'chip', k + '=' + state.common[k]));
    }
  }
  function appendRows(entries, atTop) {
    const ol = $('results');
    const frag = document.createDocumentFragment();
    let added = 0;
    for (const e of entries) {
      const id = e.ts + '\u0000' + e.key + '\u0000' + e.line;
      if (state.seen.has(id)) continue;
      state.seen.add(id);
      frag.appendChild(makeRow(e));
      added++;
    }
    if (atTop) ol.insertBefore(frag, ol.firstChild); else ol.appendChild(frag);
    state.rows += added;
    return added;
  }

  async function loadLogs(gen, older) {
    state.loading = true;
    $('more').hidden = false;
    const end = older ? state.oldestNs + 1n : state.endNs;
    const t0 = performance.now();
    try {
      const j = await api('/loki/api/v1/query_range', {
        query: state.query, start: state.startNs.toString(), end: end.toString(),
        limit: String(PAGE), direction: 'backward',
      });
      if (gen !== state.gen) return;
      const data = j.data || {};
      if (data.resultType !== 'streams') { renderMetric(data); return; }
      const fetchMs = performance.now() - t0;
      if (!older) computeCommon(data.result);
      const entries = flatten(data.result);
      const t1 = performance.now();
      const added = appendRows(entries, false);
      void $('results').offsetHeight; /* include layout in the measured render time */
      /* read by the browser tests and bench/ui */
      window.__lfLastRender = { rows: added, fetchMs, renderMs: performance.now() - t1 };
      if (entries.length) state.oldestNs = entries[entries.length - 1].ts;
      state.hasMore = entries.length >= PAGE && added > 0;
      const ms = Math.round(performance.now() - t0);
      setStatus(state.rows + ' line' + (state.rows === 1 ? '' : 's') + ' shown' +
        (state.hasMore ? ' (scroll for older)' : '') + ' · last request ' + ms + ' ms');
    } catch (e) {
      if (gen === state.gen) { setError(e.message); markErrorPosition(e.message); }
    } finally {
      if (gen === state.gen) {
        state.loading = false;
        $('more').hidden = !state.hasMore;
      }
    }
  }

  /* ---------- volume histogram ---------- */
  async function loadVolume(gen) {
    const spanS = Number((state.endNs - state.startNs) / 1000000000n);
    const step = stepFor(spanS, 80);
    const q = 'sum by (level) (count_over_time(' + state.query + ' | drop __error__ [' + step + 's]))';
    try {
      const j = await api('/loki/api/v1/query_range', {
        query: q, start: state.startNs.toString(), end: state.endNs.toString(), step: String(step),
      });
      if (gen !== state.gen) return;
      drawVolume((j.data && j.data.result) || [], step);
    } catch (e) {
      /* The histogram is an extra: a store that cannot answer it leaves it out. */
      if (gen === state.gen) $('volume').hidden = true;
    }
  }
  function volumeClass(level) { return LEVELS[(level || '').toLowerCase()] || 'other'; }
  function drawVolume(series, step) {
    const box = $('volume'), svg = $('volume-svg');
    box.hidden = false;
    const W = Math.max(300, svg.getBoundingClientRect().width || 800), H = 110, PADB = 16, PADL = 36;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.textContent = '';
    const t0 = Number(state.startNs / 1000000000n), t1 = Number(state.endNs / 1000000000n);
    const stacks = new Map(); /* point time -> [[level, v]]; a point counts (t - step, t] */
    const levels = new Map();
    for (const s of series) {
      const lv = (s.metric && s.metric.level) || 'logs';
      for (const [ts, v] of s.values || []) {
        const t = Number(ts);
        const arr = stacks.get(t) || [];
        arr.push([lv, Number(v)]);
        stacks.set(t, arr);
        levels.set(lv, (levels.get(lv) || 0) + Number(v));
      }
    }
    let max = 0;
    for (const arr of stacks.values()) max = Math.max(max, arr.reduce((a, x) => a + x[1], 0));
    const span = Math.max(1, t1 - t0);
    const X = (t) => PADL + Math.max(0, Math.min(1, (t - t0) / span)) * (W - PADL);
    svg.appendChild(svgEl('line', { class: 'axis', x1: PADL, y1: H - PADB, x2: W, y2: H - PADB }));
    const yl = svgEl('text', { x: 2, y: 10 });
    yl.textContent = fmtNum(max);
    svg.appendChild(yl);
    const order = ['other', 'debug', 'info', 'warn', 'error'];
    for (const [t, arr] of stacks) {
      const x0 = X(t - step), x1 = X(t);
      if (x1 - x0 <= 0) continue;
      arr.sort((x, y) => order.indexOf(volumeClass(x[0])) - order.indexOf(volumeClass(y[0])));
      let y = H - PADB;
      for (const [lv, v] of arr) {
        const h = max ? (v / max) * (H - PADB - 12) : 0;
        y -= h;
        const r = svgEl('rect', { class: 'bar lv-' + volumeClass(lv), x: (x0 + 0.5).toFixed(1),
          y: y.toFixed(1), width: Math.max(1, x1 - x0 - 1).toFixed(1), height: h.toFixed(1) });
        r.dataset.level = lv;
        r.dataset.count = String(v);
        const tt = svgEl('title', {});
        tt.textContent = lv + ': ' + v;
        r.appendChild(tt);
        svg.appendChild(r);
      }
    }
    for (let i = 0; i <= 4; i++) {
      const x = PADL + (i / 4) * (W - PADL);
      const t = svgEl('text', { x: Math.min(W - 30, x).toFixed(0), y: H - 3 });
      t.textContent = fmtTick(t0 + (i / 4) * (t1 - t0), t1 - t0);
      svg.appendChild(t);
    }
    const leg = $('volume-legend');
    leg.textContent = '';
    for (const [lv, n] of levels) {
      const s = el('span');
      s.appendChild(el('span', 'sw lv-' + volumeClass(lv)));
      s.appendChild(document.createTextNode(lv + ' (' + n + ')'));
      leg.appendChild(s);
    }
    svg.dataset.t0 = t0;
    svg.dataset.t1 = t1;
    svg.dataset.padl = PADL;
    svg.dataset.w = W;
  }
  function setupZoom() {
    const svg = $('volume-svg');
    let startX = null, selRect = null;
    const toX = (ev) => {
      const r = svg.getBoundingClientRect();
      return ((ev.clientX - r.left) / r.width) * Number(svg.dataset.w || r.width);
    };
    svg.addEventListener('pointerdown', (ev) => {
      startX = toX(ev);
      selRect = svgEl('rect', { class: 'sel', x: startX, y: 0, width: 0, height: 94 });
      svg.appendChild(selRect);
      svg.setPointerCapture(ev.pointerId);
    });
    svg.addEventListener('pointermove', (ev) => {
      if (startX === null) return;
      const x = toX(ev);
      selRect.setAttribute('x', Math.min(x, startX));
      selRect.setAttribute('width', Math.abs(x - startX));
    });
    svg.addEventListener('pointerup', (ev) => {
      if (startX === null) return;
      const x = toX(ev), x0 = Math.min(x, startX), x1 = Math.max(x, startX);
      startX = null;
      if (selRect) selRect.remove();
      if (x1 - x0 < 4) return;
      const padl = Number(svg.dataset.padl), w = Number(svg.dataset.w);
      const t0 = Number(svg.dataset.t0), t1 = Number(svg.dataset.t1);
      const f = (xx) => t0 + Math.max(0, Math.min(1, (xx - padl) / (w - padl))) * (t1 - t0);
      $('range').value = 'abs';
      $('abs-range').hidden = false;
      $('from').value = rfc3339(Math.floor(f(x0)) * 1000);
      $('to').value = rfc3339(Math.ceil(f(x1)) * 1000);
      run();
    });
  }

  /* ---------- metric chart ---------- */
  async function loadMetric(gen) {
    const spanS = Number((state.endNs - state.startNs) / 1000000000n);
    const step = stepFor(spanS, 250);
    const t0 = performance.now();
    try {
      const j = await api('/loki/api/v1/query_range', {
        query: state.query, start: state.startNs.toString(), end: state.endNs.toString(), step: String(step),
      });
      if (gen !== state.gen) return;
      renderMetric(j.data || {}, step);
      setStatus(((j.data && j.data.result) || []).length + ' series · ' + Math.round(performance.now() - t0) + ' ms');
    } catch (e) {
      if (gen === state.gen) { setError(e.message); markErrorPosition(e.message); }
    }
  }
  function renderMetric(data, step) {
    const box = $('chart'), svg = $('chart-svg'), legend = $('chart-legend');
    box.hidden = false;
    svg.textContent = '';
    legend.textContent = '';
    let series = [];
    if (data.resultType === 'matrix') {
      series = (data.result || []).map((s) => ({ metric: s.metric || {}, pts: (s.values || []).map((v) => [Number(v[0]), Number(v[1])]) }));
    } else if (data.resultType === 'vector') {
      series = (data.result || []).map((s) => ({ metric: s.metric || {}, pts: [[Number(s.value[0]), Number(s.value[1])]] }));
    } else if (data.resultType === 'scalar') {
      series = [{ metric: { scalar: '' }, pts: [[Number(data.result[0]), Number(data.result[1])]] }];
    }
    const W = Math.max(300, svg.getBoundingClientRect().width || 800), H = 260, PADL = 48, PADB = 18, PADT = 8;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const t0 = Number(state.startNs / 1000000000n), t1 = Number(state.endNs / 1000000000n);
    let lo = 0, hi = 0;
    for (const s of series) for (const p of s.pts) if (isFinite(p[1])) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); }
    if (hi === lo) hi = lo + 1;
    const X = (t) => PADL + ((t - t0) / Math.max(1, t1 - t0)) * (W - PADL - 4);
    const Y = (v) => PADT + (1 - (v - lo) / (hi - lo)) * (H - PADT - PADB);
    for (let i = 0; i <= 4; i++) {
      const v = lo + (i / 4) * (hi - lo);
      svg.appendChild(svgEl('line', { class: 'axis', x1: PADL, x2: W, y1: Y(v), y2: Y(v) }));
      const t = svgEl('text', { x: 2, y: Y(v) + 3 });
      t.textContent = fmtNum(v);
      svg.appendChild(t);
      const tx = svgEl('text', { x: Math.min(W - 40, X(t0 + (i / 4) * (t1 - t0))), y: H - 4 });
      tx.textContent = fmtTick(t0 + (i / 4) * (t1 - t0), t1 - t0);
      svg.appendChild(tx);
    }
    const gap = (step || 60) * 1.5;
    series.forEach((s, i) => {
      const cls = 's' + (i % 10);
      let run = [];
      const flush = () => {
        if (run.length === 1) svg.appendChild(svgEl('circle', { class: 'pt ' + cls, cx: run[0][0], cy: run[0][1], r: 2 }));
        else if (run.length > 1) svg.appendChild(svgEl('polyline', { class: 'series ' + cls, points: run.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' ') }));
        run = [];
      };
      let prev = null;
      for (const [t, v] of s.pts) {
        if (!isFinite(v)) { flush(); prev = null; continue; }
        if (prev !== null && t - prev > gap) flush();
        run.push([X(t), Y(v)]);
        prev = t;
      }
      flush();
      const li = el('li');
      li.appendChild(el('span', 'sw ' + cls));
      li.appendChild(document.createTextNode(labelText(s.metric)));
      legend.appendChild(li);
    });
    svg.dataset.series = String(series.length);
  }

  /* ---------- parse error position ---------- */
  function markErrorPosition(msg) {
    const m = /line (\d+), col (\d+)/.exec(msg);
    if (!m) return;
    const box = $('query');
    const lines = box.value.split('\n');
    let off = 0;
    for (let i = 0; i < Number(m[1]) - 1 && i < lines.length; i++) off += lines[i].length + 1;
    off = Math.min(box.value.length, off + Number(m[2]) - 1);
    box.setSelectionRange(off, Math.min(box.value.length, off + 1));
  }

  /* ---------- live tail ---------- */
  function stopTail() {
    if (state.ws) { state.ws.onclose = null; state.ws.close(1000); state.ws = null; }
    clearInterval(state.rateTimer);
    state.rateTimer = null;
    state.paused = false;
    state.pending = [];
    $('tail').setAttribute('aria-pressed', 'false');
    $('tail').textContent = 'Live tail';
    $('pause').hidden = true;
    $('tail-rate').hidden = true;
  }
  function startTail() {
    const q = $('query').value.trim();
    if (!isLogQuery(q)) { setError('Live tail needs a log query (it starts with a stream selector {…}).'); return; }
    stopRun();
    setError('');
    state.query = q;
    resetResults();
    $('volume').hidden = true;
    $('chart').hidden = true;
    state.common = {};
    const p = new URLSearchParams({ query: q, limit: '100', start: (nowNs() - 60000000000n).toString() });
    /* a websocket carries no X-Scope-OrgID: the store takes the tenant from the URL */
    if (tenant()) p.set('tenant', tenant());
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(proto + '//' + location.host + '/loki/api/v1/tail?' + p.toString());
    state.ws = ws;
    state.arrivals = [];
    $('tail').setAttribute('aria-pressed', 'true');
    $('tail').textContent = 'Stop tail';
    $('pause').hidden = false;
    $('pause').textContent = 'Pause';
    $('pause').setAttribute('aria-pressed', 'false');
    $('tail-rate').hidden = false;
    $('tail-rate').textContent = 'connecting…';
    let dropped = 0;
    ws.onopen = () => setStatus('Following ' + q);
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      const entries = flatten(msg.streams).reverse(); /* oldest first, each inserted on top */
      const now = Date.now();
      for (let i = 0; i < entries.length; i++) state.arrivals.push(now);
      if (msg.dropped_entries && msg.dropped_entries.length) {
        dropped += msg.dropped_entries.length;
        setStatus('Following ' + q + ' · the store dropped ' + dropped + ' entries (client too slow)');
      }
      if (state.paused) { state.pending.push(...entries); return; }
      showTailed(entries);
    };
    ws.onerror = () => setError('Live tail: the connection failed (does this store serve /loki/api/v1/tail?)');
    ws.onclose = (ev) => {
      if (ev.code !== 1000 && ev.reason) setError('Live tail closed: ' + ev.reason);
      stopTail();
    };
    state.rateTimer = setInterval(() => {
      const cut = Date.now() - 5000;
      while (state.arrivals.length && state.arrivals[0] < cut) state.arrivals.shift();
      $('tail-rate').textContent = (state.arrivals.length / 5).toFixed(1) + ' lines/s' +
        (state.paused ? ' · paused, ' + state.pending.length + ' waiting' : '');
    }, 1000);
  }
  function showTailed(entries) {
    for (const e of entries) appendRows([e], true);
    const ol = $('results');
    while (ol.children.length > MAX_ROWS) ol.removeChild(ol.lastChild);
    state.rows = ol.children.length;
  }

  /* ---------- running a query ---------- */
  function resetResults() {
    $('results').textContent = '';
    state.seen = new Set();
    state.rows = 0;
    state.oldestNs = null;
    state.hasMore = false;
    $('more').hidden = true;
    $('common-labels').hidden = true;
  }
  function stopRun() { state.gen++; }
  function run() {
    stopTail();
    const q = $('query').value.trim();
    setError('');
    if (!q) { setError('Enter a LogQL query, e.g. {job="varlogs"}'); return; }
    let r;
    try { r = currentRange(); } catch (e) { setError(e.message); return; }
    state.gen++;
    const gen = state.gen;
    state.query = q;
    state.startNs = r.startNs;
    state.endNs = r.endNs;
    saveHistory(q);
    writeUrl();
    resetResults();
    $('volume').hidden = true;
    $('chart').hidden = true;
    setStatus('Running…');
    if (isLogQuery(q)) {
      loadLogs(gen, false);
      loadVolume(gen);
    } else {
      loadMetric(gen);
    }
  }

  /* ---------- keyboard and wiring ---------- */
  function setupResultsKeys() {
    const ol = $('results');
    ol.addEventListener('keydown', (ev) => {
      const li = ev.target.closest('li');
      if (!li) return;
      let next = null;
      if (ev.key === 'ArrowDown' || ev.key === 'j') next = li.nextElementSibling;
      else if (ev.key === 'ArrowUp' || ev.key === 'k') next = li.previousElementSibling;
      else if (ev.key === 'Home') next = ol.firstElementChild;
      else if (ev.key === 'End') next = ol.lastElementChild;
      else if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); toggleFields(li); return; }
      if (next) { ev.preventDefault(); next.focus(); }
    });
    ol.addEventListener('click', (ev) => {
      if (ev.target.closest('.toggle')) toggleFields(ev.target.closest('li'));
    });
  }
  function setupLabelKeys(list) {
    list.addEventListener('keydown', (ev) => {
      const b = ev.target.closest('button');
      if (!b) return;
      const all = [...list.querySelectorAll('button')];
      const i = all.indexOf(b);
      let j = -1;
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') j = Math.min(all.length - 1, i + 1);
      else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') j = Math.max(0, i - 1);
      if (j >= 0) { ev.preventDefault(); all[j].focus(); }
    });
  }

  function init() {
    try { $('tenant').value = localStorage.getItem(TENANT_KEY) || ''; } catch (e) { /* no storage */ }
    renderHistory(loadHistory());
    const autorun = readUrl();
    $('query-form').addEventListener('submit', (ev) => { ev.preventDefault(); run(); });
    $('query').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); run(); }
    });
    $('range').addEventListener('change', () => {
      $('abs-range').hidden = $('range').value !== 'abs';
      if ($('range').value === 'abs' && !$('from').value) {
        const r = Date.now();
        $('from').value = rfc3339(r - 3600000);
        $('to').value = rfc3339(r);
      }
      loadLabelNames();
      if ($('query').value.trim() && $('range').value !== 'abs') run();
    });
    $('history').addEventListener('change', () => {
      const v = $('history').value;
      if (v) { $('query').value = v; run(); }
    });
    $('tenant').addEventListener('change', () => {
      try { localStorage.setItem(TENANT_KEY, tenant()); } catch (e) { /* no storage */ }
      loadLabelNames();
    });
    $('tail').addEventListener('click', () => { if (state.ws) stopTail(); else startTail(); });
    $('pause').addEventListener('click', () => {
      state.paused = !state.paused;
      $('pause').textContent = state.paused ? 'Resume' : 'Pause';
      $('pause').setAttribute('aria-pressed', state.paused ? 'true' : 'false');
      if (!state.paused) { showTailed(state.pending); state.pending = []; }
    });
    setupResultsKeys();
    setupLabelKeys($('label-names'));
    setupLabelKeys($('label-values'));
    setupZoom();
    const more = $('more');
    new IntersectionObserver((items) => {
      if (items.some((i) => i.isIntersecting) && state.hasMore && !state.loading && !state.ws) loadLogs(state.gen, true);
    }).observe(more);
    loadLabelNames();
    if (autorun) run(); else $('query').focus();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();

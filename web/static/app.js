/* sipscope web UI, core: helpers, one time format (UTC or local, switchable), the API client,
 * what this server offers (read from its OpenAPI description, so a control whose parameter or
 * route is missing is hidden, never faked), the time-range picker, the router and the call list.
 * Pages: call.js (call detail), dash.js (dashboard), pages.js (messages, alerts, registrations).
 * Plain JavaScript, no build step; these classic scripts share their top-level names. Every text
 * from the API goes into the page through textContent or SVG text nodes, never as HTML. */
'use strict';

const STATES = ['setup', 'ringing', 'in_call', 'completed', 'rejected', 'cancelled'];
const VERDICTS = ['good', 'degraded', 'poor', 'one_way', 'no_media', 'failed'];
const PALETTE = ['#2f7fd8', '#e8803a', '#2e9d5b', '#d64545', '#9b59b6', '#17a2b8', '#c0a000',
  '#6c757d'];
const REFRESH_MS = 5000;
const LIVE_REFRESH_MS = 2000;   // while calls in progress are on the page

const view = document.getElementById('view');
const banner = document.getElementById('banner');
const statusEl = document.getElementById('status');
let timers = [];        // intervals of the current view
let charts = [];        // uPlot instances of the current view (resized with the window)
let renderSeq = 0;      // a newer render makes older async work drop its results

// ---- small helpers -----------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function pad(n, w) { return String(n).padStart(w || 2, '0'); }
function has(o, k) { return o !== null && o !== undefined && Object.prototype.hasOwnProperty.call(o, k); }

// ---- time: one format everywhere, in UTC or in the browser's zone --------------------------

let tzMode = localStorage.getItem('sipscope.tz') === 'local' ? 'local' : 'utc';

// Times come as epoch seconds (or, tolerated, ISO 8601 strings).
function epoch(t) {
  if (t === null || t === undefined || t === '') return null;
  if (typeof t === 'number') return t;
  const n = Number(t);
  if (!isNaN(n)) return n;
  const ms = Date.parse(t);
  return isNaN(ms) ? null : ms / 1000;
}

function parts(t) {
  const d = new Date(t * 1000);
  const u = tzMode === 'utc';
  return {
    y: u ? d.getUTCFullYear() : d.getFullYear(), mo: (u ? d.getUTCMonth() : d.getMonth()) + 1,
    d: u ? d.getUTCDate() : d.getDate(), h: u ? d.getUTCHours() : d.getHours(),
    mi: u ? d.getUTCMinutes() : d.getMinutes(), s: u ? d.getUTCSeconds() : d.getSeconds(),
    ms: d.getMilliseconds(),
  };
}

// "2024-01-15 10:00:14" (".158" with withMs), in the chosen zone; zoneName() says which.
function fmtTime(t, withMs) {
  t = epoch(t);
  if (t === null) return '—';
  const p = parts(t);
  let s = `${p.y}-${pad(p.mo)}-${pad(p.d)} ${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
  if (withMs) s += '.' + pad(p.ms, 3);
  return s;
}

function zoneName() {
  if (tzMode === 'utc') return 'UTC';
  const off = -new Date().getTimezoneOffset();
  const name = (Intl.DateTimeFormat().resolvedOptions().timeZone) || 'local';
  return `${name}, UTC${off >= 0 ? '+' : '−'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

// Chart axis ticks in the same format, as short as the tick spacing allows.
function axisTimes(u, ticks, axisIdx, space, incr) {
  let lastDay = '';
  return ticks.map((t) => {
    const full = fmtTime(t);
    const day = full.slice(0, 10);
    let s = incr >= 86400 ? day : incr >= 60 ? full.slice(11, 16) : full.slice(11, 19);
    if (incr < 1) s = fmtTime(t, true).slice(11, 23);
    if (incr < 86400 && day !== lastDay) s = day + '\n' + s;
    lastDay = day;
    return s;
  });
}

// uPlot draws its time axis in local time unless told: make it follow the switch.
function tzDateOpt() {
  return tzMode === 'utc' ? (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : (ts) => new Date(ts * 1000);
}

// Time inputs take the page's one format ("2024-01-15 10:00:14", seconds and time optional) in
// the chosen zone; epoch seconds <-> that text.
const TIME_PATTERN = '\\d{4}-\\d\\d-\\d\\d([ T]\\d\\d:\\d\\d(:\\d\\d)?)?';
function toInput(t) {
  t = epoch(t);
  return t === null ? '' : fmtTime(t);
}
function fromInput(v) {
  if (!v) return '';
  const m = /^\s*(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d))?)?\s*$/.exec(v);
  if (!m) return '';
  const a = [Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] || 0), Number(m[5] || 0), Number(m[6] || 0)];
  const ms = tzMode === 'utc' ? Date.UTC(...a) : new Date(...a).getTime();
  return isNaN(ms) ? '' : String(Math.floor(ms / 1000));
}

function fmtDur(s) {
  if (s === null || s === undefined) return '—';
  if (s < 60) return s.toFixed(1) + ' s';
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  if (m < 60) return `${m}m ${pad(r)}s`;
  return `${Math.floor(m / 60)}h ${pad(m % 60)}m`;
}

function fmtMs(v) { return v === null || v === undefined ? '—' : Math.round(v) + ' ms'; }
function fmtNum(v, d) { return v === null || v === undefined ? '—' : Number(v).toFixed(d); }
function fmtInt(v) { return v === null || v === undefined ? '—' : Number(v).toLocaleString('en-US'); }
function fmtPct(v) { return v === null || v === undefined ? '—' : (v * 100).toFixed(1) + ' %'; }

// ---- quality colours: the verdict decides; without one, a one-way call is never green -------

function mosClass(m) {
  if (m === null || m === undefined) return 'mos-none';
  if (m >= 4.0) return 'mos-good';
  if (m >= 3.6) return 'mos-fair';
  if (m >= 3.1) return 'mos-poor';
  return 'mos-bad';
}

const VERDICT_CLASS = {
  good: 'mos-good', degraded: 'mos-fair', poor: 'mos-poor', one_way: 'mos-bad',
  no_media: 'mos-bad', failed: 'mos-bad',
};

// The colour of a call's MOS cell: its verdict's when the server gave one, else the MOS's,
// but never green (nor yellow-green) for a call with one-way media.
function callQualityClass(c) {
  if (has(c, 'verdict') && VERDICT_CLASS[c.verdict]) {
    // No MOS: only the absence of media is worth a colour.
    if (c.mos === null || c.mos === undefined) return c.verdict === 'no_media' || c.verdict === 'one_way' ? 'mos-bad' : 'mos-none';
    return VERDICT_CLASS[c.verdict];
  }
  if (c.one_way) return 'mos-bad';
  return mosClass(c.mos);
}

function verdictBadge(v) {
  if (!v) return null;
  return el('span', { class: 'badge verdict verdict-' + v, text: v.replace('_', '-') });
}

function stateBadge(state) {
  return el('span', { class: 'badge state-' + state, text: state.replace('_', ' ') });
}

// The user part of a SIP URI, for compact display ("sip:alice@x" -> "alice").
function uriUser(uri) {
  if (!uri) return '';
  const m = /^(?:sips?|tel):([^@;>]*)/i.exec(uri.replace(/^.*</, ''));
  return m && m[1] ? m[1] : uri;
}

// "192.0.2.1:5060" -> "192.0.2.1", "[2001:db8::1]:5060" -> "2001:db8::1"
function hostOf(addr) {
  if (!addr) return '';
  const m = /^\[([^\]]+)\]:\d+$/.exec(addr) || /^([^:]+):\d+$/.exec(addr);
  return m ? m[1] : addr;
}

function showError(msg) {
  banner.textContent = msg;
  banner.hidden = !msg;
}

function query(params) {
  return params ? new URLSearchParams(Object.entries(params).filter(([, v]) =>
    v !== '' && v !== null && v !== undefined)).toString() : '';
}

async function api(path, params) {
  const qs = query(params);
  const url = 'api/v1/' + path + (qs ? '?' + qs : '');
  let res = await fetch(url, { credentials: 'same-origin' });
  // A busy server (statistics being computed for other clients) answers 503 with Retry-After:
  // try again a few times before showing an error.
  for (let tries = 0; res.status === 503 && res.headers.get('Retry-After') && tries < 4; tries++) {
    const secs = Math.min(5, Number(res.headers.get('Retry-After')) || 1);
    await new Promise((done) => setTimeout(done, secs * 1000 * (0.5 + Math.random() / 2)));
    res = await fetch(url, { credentials: 'same-origin' });
  }
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.status === 401) {
    throw new Error('This server needs a token: open the address sipscope printed ' +
      '(it ends with ?access_token=...).');
  }
  if (!res.ok) throw new Error((body && body.error) || `HTTP ${res.status}`);
  return body;
}

// ---- what this server offers ---------------------------------------------------------------
// Read once from /api/v1/openapi.json: the routes, each route's query parameters and the call
// list's sort keys. The server refuses unknown parameters, so the UI sends only these.

const caps = { routes: new Set(), params: {}, callSorts: new Set(['invite_time', 'mos', 'duration', 'pdd']) };
const FALLBACK_PARAMS = {
  '/api/v1/calls': ['state', 'from', 'to', 'call_id', 'since', 'until', 'min_mos', 'max_mos', 'q', 'sort', 'order', 'limit', 'offset'],
  '/api/v1/stats': ['since', 'until', 'step'],
  '/api/v1/alerts': ['since', 'type', 'limit', 'offset'],
  '/api/v1/registrations': ['user', 'active', 'limit', 'offset'],
};

async function loadCaps() {
  let spec = null;
  try {
    const res = await fetch('api/v1/openapi.json', { credentials: 'same-origin' });
    if (res.ok) spec = await res.json();
  } catch (e) { spec = null; }
  if (!spec || !spec.paths) {
    for (const [p, names] of Object.entries(FALLBACK_PARAMS)) {
      caps.routes.add(p);
      caps.params[p] = new Set(names);
    }
    return;
  }
  for (const [p, item] of Object.entries(spec.paths)) {
    caps.routes.add(p);
    const ps = ((item.get && item.get.parameters) || []).filter((x) => x.in === 'query');
    caps.params[p] = new Set(ps.map((x) => x.name));
    if (p === '/api/v1/calls') {
      const sort = ps.find((x) => x.name === 'sort');
      if (sort && sort.schema && Array.isArray(sort.schema.enum)) caps.callSorts = new Set(sort.schema.enum);
    }
  }
}

function hasRoute(p) { return caps.routes.has(p); }
function hasParam(route, name) { return !!(caps.params[route] && caps.params[route].has(name)); }
// Keep only the parameters the route takes.
function onlyKnown(route, params) {
  return Object.fromEntries(Object.entries(params).filter(([k]) => hasParam(route, k)));
}

// ---- the newest stored data, which time presets count back from ----------------------------

let dataRange = null;   // {first, last} epoch seconds, or null when nothing is stored
let dataRangeAt = 0;
// fresh: at most this many ms old (a capture keeps adding calls).
async function loadDataRange(fresh) {
  if (dataRangeAt && Date.now() - dataRangeAt < (fresh === undefined ? Infinity : fresh)) return dataRange;
  const s = await api('stats');
  dataRangeAt = Date.now();
  let first = epoch(s.first_time), last = epoch(s.last_time);
  if (!has(s, 'last_time') && s.calls > 0) {
    // An older server: its stats range is aligned to whole steps, so ask for the newest call.
    const newest = await api('calls', { limit: 1 });
    last = newest.calls.length ? epoch(newest.calls[0].invite_time) : null;
    first = epoch(s.since);
  }
  dataRange = s.calls > 0 && last !== null ? { first, last } : null;
  return dataRange;
}

const PRESETS = [
  { key: '15m', label: '15 min', secs: 900 },
  { key: '1h', label: '1 h', secs: 3600 },
  { key: '24h', label: '24 h', secs: 86400 },
  { key: '7d', label: '7 days', secs: 7 * 86400 },
  { key: 'all', label: 'All' },
];

// The range a view's URL asks for: {since, until} epoch seconds (or ''), from `range` (a preset
// counted back from the newest stored call, so an old capture is not empty) or since/until.
async function resolveRange(hp) {
  const key = hp.get('range');
  const preset = PRESETS.find((p) => p.key === key && p.secs);
  if (preset) {
    const r = await loadDataRange(10000);
    if (!r) return { since: '', until: '' };
    const until = Math.floor(r.last) + 1;
    return { since: String(until - preset.secs), until: String(until) };
  }
  return { since: hp.get('since') || '', until: hp.get('until') || '' };
}

// The time-range picker: presets relative to the newest stored data, and absolute from/to.
function rangePicker(hp, route, extra) {
  const key = hp.get('range') || (hp.get('since') || hp.get('until') ? '' : 'all');
  const keep = () => {
    const o = Object.fromEntries(hashParams());
    delete o.range; delete o.since; delete o.until; delete o.offset;
    return o;
  };
  const timeInput = (name, label) => el('input', { type: 'text', name, 'aria-label': `${label} (${zoneName()})`, class: 'time-input',
    placeholder: 'YYYY-MM-DD HH:MM:SS', pattern: TIME_PATTERN, title: `YYYY-MM-DD HH:MM:SS, ${zoneName()}`, value: toInput(hp.get(name)) });
  const from = timeInput('since', 'From');
  const to = timeInput('until', 'To');
  const apply = (ev) => {
    ev.preventDefault();
    setHash(route, Object.assign(keep(), { since: fromInput(from.value), until: fromInput(to.value) }));
  };
  const box = el('form', { class: 'range', 'aria-label': 'Time range', onsubmit: apply },
    el('div', { class: 'segmented', role: 'group', 'aria-label': 'Time presets, counted back from the newest stored call' },
      PRESETS.map((p) => el('a', {
        href: route + '?' + query(Object.assign(keep(), { range: p.key === 'all' ? '' : p.key })),
        class: p.key === key ? 'active' : '', 'aria-current': p.key === key ? 'true' : null,
        title: p.secs ? `The last ${p.label} of stored data (up to the newest stored call)` : 'Everything stored',
        text: p.label,
      }))),
    el('label', { class: 'inline' }, 'from', from),
    el('label', { class: 'inline' }, 'to', to),
    el('button', { type: 'submit', text: 'Apply' }),
    el('span', { class: 'muted zone-note', text: zoneName() }),
    extra || null);
  return box;
}

// ---- view plumbing ---------------------------------------------------------------------------

function clearView() {
  timers.forEach(clearInterval);
  timers = [];
  charts.forEach((c) => c.destroy());
  charts = [];
  view.replaceChildren();
  delete view.dataset.loaded;
  showError('');
  renderSeq++;
  return renderSeq;
}

function setNav(name) {
  document.querySelectorAll('[data-nav]').forEach((a) => {
    const on = a.getAttribute('data-nav') === name;
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  });
}

function hashParams() {
  const h = location.hash || '';
  const q = h.indexOf('?');
  return new URLSearchParams(q >= 0 ? h.slice(q + 1) : '');
}

function setHash(route, params) {
  const qs = query(params);
  location.hash = route + (qs ? '?' + qs : '');
}

function markUpdated() {
  statusEl.textContent = 'updated ' + fmtTime(Date.now() / 1000).slice(11);
}

function chartWidth(container) {
  return Math.max(200, (container.clientWidth || view.clientWidth || 900) - 4);
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

// Axis colours that follow the page's (light or dark) theme.
function themedAxis(a) {
  const ink = cssVar('--muted'), line = cssVar('--line');
  return Object.assign({ stroke: ink, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } }, a);
}

function tableWrap(table) { return el('div', { class: 'table-wrap' }, table); }

window.addEventListener('resize', () => {
  for (const c of charts) {
    const box = c.root.parentElement;
    if (box) c.setSize({ width: chartWidth(box), height: c.height });
  }
});

// ---- call list -------------------------------------------------------------------------------

// Every call filter: name, label, kind. A filter shows only when the server takes it.
const CALL_FILTERS = [
  { name: 'search', label: 'Search headers and bodies', kind: 'text', main: true, wide: true },
  // With full-text search offered, the older substring filter moves under "More filters".
  { name: 'q', label: 'Call-ID / URI contains', kind: 'text', main: 'unless-search', wide: true },
  { name: 'state', label: 'State', kind: 'select', main: true, options: STATES },
  { name: 'verdict', label: 'Verdict', kind: 'select', main: true, options: VERDICTS, extra: [['degraded,poor,one_way,no_media,failed', 'not good']] },
  { name: 'active', label: 'In progress', kind: 'bool', main: true },
  { name: 'one_way', label: 'One-way', kind: 'bool' },
  { name: 'nat', label: 'NAT', kind: 'bool' },
  { name: 'from', label: 'From user', kind: 'text' },
  { name: 'to', label: 'To user', kind: 'text' },
  { name: 'ip', label: 'IP or CIDR', kind: 'text' },
  { name: 'final_status', label: 'Final status (486, 4xx)', kind: 'text', narrowish: true },
  { name: 'user_agent', label: 'User agent contains', kind: 'text' },
  { name: 'codec', label: 'Codec', kind: 'text', narrowish: true },
  { name: 'probe', label: 'Probe id', kind: 'number', min: 0, step: 1 },
  { name: 'min_loss', label: 'Loss ≥ %', kind: 'number', min: 0, max: 100, step: 0.1 },
  { name: 'min_mos', label: 'MOS ≥', kind: 'number', min: 0, max: 5, step: 0.1 },
  { name: 'max_mos', label: 'MOS ≤', kind: 'number', min: 0, max: 5, step: 0.1 },
  { name: 'min_duration', label: 'Duration ≥ s', kind: 'number', min: 0, step: 1 },
  { name: 'min_pdd', label: 'PDD ≥ ms', kind: 'number', min: 0, step: 1 },
  { name: 'call_id', label: 'Call-ID (exact)', kind: 'text', wide: true },
];
const CALLS = '/api/v1/calls';

function filterControl(f, value) {
  const id = 'f-' + f.name;
  let input;
  if (f.kind === 'select' || f.kind === 'bool') {
    const opts = f.kind === 'bool' ? [['true', 'yes'], ['false', 'no']] :
      f.options.map((o) => [o, o.replace('_', f.name === 'verdict' ? '-' : ' ')]).concat(f.extra || []);
    input = el('select', { name: f.name, id },
      el('option', { value: '', text: 'any' }),
      opts.map(([v, t]) => el('option', { value: v, selected: value === v, text: t })));
  } else {
    input = el('input', {
      name: f.name, id, value, type: f.kind === 'number' ? 'number' : 'search',
      min: f.min, max: f.max, step: f.step,
      class: f.wide ? 'wide' : f.kind === 'number' || f.narrowish ? 'narrow' : null,
    });
  }
  return el('label', { class: 'field', for: id }, el('span', { text: f.label }), input);
}

function renderCalls() {
  const seq = clearView();
  setNav('calls');
  const hp = hashParams();
  const filters = CALL_FILTERS.filter((f) => hasParam(CALLS, f.name)).map((f) =>
    f.main === 'unless-search' ? Object.assign({}, f, { main: !hasParam(CALLS, 'search') }) : f);
  const state = {
    sort: hp.get('sort') || 'invite_time',
    order: hp.get('order') || 'desc',
    limit: Number(hp.get('limit')) || 50,
    offset: Number(hp.get('offset')) || 0,
  };
  const current = () => Object.fromEntries(hashParams());
  const go = (changes) => setHash('#/calls', Object.assign(current(), changes));

  const form = el('form', { class: 'filters', id: 'filters' });
  const mainBox = el('div', { class: 'filter-row' });
  const moreBox = el('div', { class: 'filter-row' });
  for (const f of filters) (f.main ? mainBox : moreBox).append(filterControl(f, hp.get(f.name) || ''));
  const moreSet = filters.filter((f) => !f.main && hp.get(f.name)).length;
  const details = el('details', { class: 'more-filters', open: moreSet > 0 },
    el('summary', { text: `More filters${moreSet ? ` (${moreSet} set)` : ''}` }), moreBox);
  mainBox.append(
    el('button', { type: 'submit', class: 'primary', text: 'Filter' }),
    el('button', { type: 'button', text: 'Reset', onclick: () => setHash('#/calls', {}) }));
  form.append(mainBox);
  if (moreBox.childElementCount) form.append(details);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fd = new FormData(form);
    const changes = { offset: '' };
    for (const f of filters) changes[f.name] = (fd.get(f.name) || '').toString().trim();
    go(changes);
  });

  const auto = el('input', { type: 'checkbox', id: 'autorefresh' });
  auto.checked = localStorage.getItem('sipscope.autorefresh') === '1';
  const summary = el('span', { class: 'muted', id: 'list-summary', 'aria-live': 'polite' });
  const table = el('table', { class: 'calls', id: 'calls-table' });
  const pager = el('div', { class: 'pager' });
  const exports = el('div', { class: 'exports', id: 'exports' });
  const picker = rangePicker(hp, '#/calls');
  view.append(
    el('section', { class: 'card' },
      el('div', { class: 'card-head' }, el('h1', { text: 'Calls' }), summary, el('span', { class: 'spacer' }),
        el('span', { class: 'live-note muted', id: 'live-note' }),
        el('label', { class: 'inline', for: 'autorefresh' }, auto, ' auto-refresh')),
      picker, form, tableWrap(table), el('div', { class: 'list-foot' }, exports, pager)));

  const cols = [
    { label: 'Time', sort: 'invite_time' },
    { label: 'From' },
    { label: 'To' },
    { label: 'IP', cls: 'opt' },
    { label: 'State' },
    { label: 'Verdict', sort: 'worst' },   // descending: worst first
    { label: 'Status', cls: 'num opt' },
    { label: 'PDD', sort: 'pdd', cls: 'num opt' },
    { label: 'Duration', sort: 'duration', cls: 'num' },
    { label: 'MOS', sort: 'mos', cls: 'num' },
    { label: 'Msgs', cls: 'num opt' },
    { label: '', cls: 'opt' },
  ];
  const head = el('tr', {}, cols.map((c) => {
    if (!c.sort || !caps.callSorts.has(c.sort)) return el('th', { class: c.cls, text: c.label });
    const active = state.sort === c.sort;
    const arrow = active ? (state.order === 'asc' ? ' ▲' : ' ▼') : '';
    return el('th', { class: (c.cls || '') + ' sortable' + (active ? ' sorted' : ''), 'aria-sort': active ? (state.order === 'asc' ? 'ascending' : 'descending') : null },
      el('a', {
        href: '#', text: c.label + arrow, onclick: (ev) => {
          ev.preventDefault();
          const first = c.defaultOrder || 'desc';
          const order = active ? (state.order === 'desc' ? 'asc' : 'desc') : first;
          go({ sort: c.sort === 'invite_time' ? '' : c.sort, order: order === 'desc' ? '' : order, offset: '' });
        },
      }));
  }));
  const tbody = el('tbody');
  table.append(el('thead', {}, head), tbody);
  const rowsById = new Map();   // rows stay the same elements across refreshes: no flicker
  let liveTimer = null;
  let ticker = null;

  async function load() {
    const range = await resolveRange(hp).catch(() => ({ since: '', until: '' }));
    const params = {};
    for (const f of filters) if (hp.get(f.name)) params[f.name] = hp.get(f.name);
    Object.assign(params, range, { sort: state.sort, order: state.order, limit: state.limit, offset: state.offset });
    let page;
    try {
      page = await api('calls', onlyKnown(CALLS, params));
    } catch (e) {
      if (seq === renderSeq) showError(e.message);
      return;
    }
    if (seq !== renderSeq) return;
    showError('');
    const fetched = Date.now();
    const keep = new Set();
    const rows = page.calls.map((c) => {
      keep.add(String(c.id));
      let tr = rowsById.get(String(c.id));
      if (!tr) {
        tr = el('tr', {
          'data-id': c.id, tabindex: '0',
          onclick: () => { location.hash = '#/call/' + c.id; },
          onkeydown: (ev) => { if (ev.key === 'Enter') location.hash = '#/call/' + c.id; },
        });
        rowsById.set(String(c.id), tr);
      }
      fillCallRow(tr, c, fetched);
      return tr;
    });
    for (const id of [...rowsById.keys()]) if (!keep.has(id)) rowsById.delete(id);
    if (rows.length === 0) {
      rows.push(el('tr', {}, el('td', { colspan: cols.length, class: 'empty', text: 'No calls match.' })));
    }
    // Move rows into order without re-creating them (a finished call keeps its row).
    if (rows.length !== tbody.children.length || rows.some((r, i) => tbody.children[i] !== r)) tbody.replaceChildren(...rows);
    const first = page.total === 0 ? 0 : page.offset + 1;
    const last = page.offset + page.calls.length;
    summary.textContent = `${fmtInt(first)}–${fmtInt(last)} of ${fmtInt(page.total)}`;
    const sizeSel = el('select', { 'aria-label': 'Page size', onchange: (ev) => go({ limit: ev.target.value, offset: '' }) },
      [25, 50, 100, 200].map((n) => el('option', { value: n, selected: n === state.limit, text: n + ' per page' })));
    pager.replaceChildren(
      el('button', { type: 'button', text: '‹ Previous', disabled: state.offset <= 0, onclick: () => go({ offset: Math.max(0, state.offset - state.limit) || '' }) }),
      el('span', { class: 'muted', text: `page ${Math.floor(state.offset / state.limit) + 1} of ${Math.max(1, Math.ceil(page.total / state.limit))}` }),
      el('button', { type: 'button', text: 'Next ›', disabled: last >= page.total, onclick: () => go({ offset: state.offset + state.limit }) }),
      sizeSel);
    fillExports(exports, params, page.total);
    const anyActive = page.calls.some((c) => c.active);
    document.getElementById('live-note').textContent = anyActive ? `${page.calls.filter((c) => c.active).length} in progress, refreshing every 2 s` : '';
    scheduleLive(anyActive);
    markUpdated();
    view.dataset.loaded = location.hash; // this view's data is on the page (tests wait on it)
  }

  function scheduleLive(anyActive) {
    if (anyActive && !liveTimer) {
      liveTimer = setInterval(load, LIVE_REFRESH_MS);
      ticker = setInterval(tickDurations, 1000);
      timers.push(liveTimer, ticker);
    } else if (!anyActive && liveTimer) {
      clearInterval(liveTimer); clearInterval(ticker);
      liveTimer = ticker = null;
    }
  }

  function schedule() {
    timers.forEach(clearInterval);
    timers = [];
    liveTimer = ticker = null;
    if (auto.checked) timers.push(setInterval(load, REFRESH_MS));
  }
  auto.addEventListener('change', () => {
    localStorage.setItem('sipscope.autorefresh', auto.checked ? '1' : '0');
    schedule();
  });
  schedule();
  load();
}

// A call in progress: its duration at the last checkpoint, plus the time since it was fetched.
function tickDurations() {
  document.querySelectorAll('[data-running]').forEach((e) => {
    const base = Number(e.dataset.running), at = Number(e.dataset.fetched);
    e.textContent = fmtDur(base + (Date.now() - at) / 1000);
  });
}

function runningDuration(c, fetched, attrs) {
  const a = Object.assign({}, attrs);
  if (c.active && c.duration_s !== null && c.duration_s !== undefined) {
    a['data-running'] = c.duration_s;
    a['data-fetched'] = fetched;
    a.title = 'in progress: duration so far';
  }
  return el('span', Object.assign(a, { text: fmtDur(c.duration_s) }));
}

function callFlags(c) {
  const flags = [];
  if (c.active) flags.push(el('span', { class: 'flag live', title: 'in progress', text: 'live' }));
  if (c.interrupted) flags.push(el('span', { class: 'flag warn', title: 'the capture stopped abruptly while this call was in progress: figures as of its last checkpoint', text: 'interrupted' }));
  // (a one_way verdict already says it in its badge)
  if (c.one_way && c.verdict !== 'one_way') flags.push(el('span', { class: 'flag warn', title: 'one-way media', text: 'one-way' }));
  if (c.nat) flags.push(el('span', { class: 'flag', title: 'media source differs from SDP (NAT)', text: 'NAT' }));
  return flags;
}

function fillCallRow(tr, c, fetched) {
  tr.className = 'row-' + (has(c, 'verdict') && c.verdict ? 'v-' + c.verdict : c.state) + (c.active ? ' row-active' : '');
  const ips = [hostOf(c.caller), hostOf(c.callee)].filter(Boolean).join(' → ');
  tr.replaceChildren(
    el('td', { class: 'nowrap', title: c.call_id }, el('a', { href: '#/call/' + c.id, tabindex: '-1', text: fmtTime(c.invite_time) })),
    el('td', { title: c.from, text: uriUser(c.from) }),
    el('td', { title: c.to, text: uriUser(c.to) }),
    el('td', { class: 'mono opt', title: `${c.caller || '?'} → ${c.callee || '?'}`, text: ips || '—' }),
    el('td', {}, stateBadge(c.state)),
    el('td', {}, has(c, 'verdict') ? verdictBadge(c.verdict) : el('span', { class: 'muted', text: '—' })),
    el('td', { class: 'num opt', text: c.final_status === null ? '—' : String(c.final_status) }),
    el('td', { class: 'num opt', text: fmtMs(c.post_dial_delay_ms) }),
    el('td', { class: 'num' }, runningDuration(c, fetched, {})),
    el('td', { class: 'num' }, el('span', { class: 'mos ' + callQualityClass(c), title: has(c, 'verdict') ? 'verdict: ' + c.verdict : null, text: fmtNum(c.mos, 2) })),
    el('td', { class: 'num opt', text: String(c.sip_messages) }),
    el('td', { class: 'opt' }, callFlags(c)));
}

// Downloads of the list as shown: CSV, and one merged pcap (routes the server may not have).
function fillExports(box, params, total) {
  const p = Object.assign({}, params);
  delete p.limit; delete p.offset;
  const items = [];
  if (hasRoute('/api/v1/calls.csv')) {
    items.push(el('a', { class: 'button', id: 'export-csv', href: 'api/v1/calls.csv?' + query(onlyKnown('/api/v1/calls.csv', p)), download: 'sipscope-calls.csv', text: '⬇ CSV' }));
  }
  if (hasRoute('/api/v1/calls/pcap')) {
    const tooMany = total > 1000;
    items.push(tooMany ?
      el('span', { class: 'muted', title: 'the merged pcap takes at most 1,000 calls: narrow the filters', text: 'pcap: over 1,000 calls' }) :
      el('a', { class: 'button', id: 'export-pcap', href: 'api/v1/calls/pcap?' + query(onlyKnown('/api/v1/calls/pcap', p)), download: 'sipscope-calls.pcap', text: '⬇ pcap of these calls' }));
  }
  box.replaceChildren(...items);
}

// ---- header: the UTC/local switch ------------------------------------------------------------

function tzSwitch() {
  const b = document.getElementById('tz');
  if (!b) return;
  const paint = () => {
    b.textContent = tzMode === 'utc' ? 'UTC' : 'Local';
    b.title = `Times are shown in ${zoneName()}; click for ${tzMode === 'utc' ? 'local time' : 'UTC'}`;
    b.setAttribute('aria-label', `Time zone: ${zoneName()}. Switch to ${tzMode === 'utc' ? 'local time' : 'UTC'}`);
  };
  paint();
  b.addEventListener('click', () => {
    tzMode = tzMode === 'utc' ? 'local' : 'utc';
    localStorage.setItem('sipscope.tz', tzMode);
    paint();
    route();
  });
}

// ---- router ----------------------------------------------------------------------------------

function route() {
  const h = location.hash || '#/calls';
  const path = h.split('?')[0];
  let m;
  if ((m = /^#\/call\/(\d+)$/.exec(path))) renderCall(m[1]);
  else if (path === '#/dashboard') renderDashboard();
  else if (path === '#/registrations') renderRegistrations();
  else if (path === '#/messages') renderMessages();
  else if ((m = /^#\/message\/(\d+)$/.exec(path))) renderMessage(m[1]);
  else if (path === '#/alerts') renderAlerts();
  else renderCalls();
}

(async function start() {
  await loadCaps();
  document.querySelectorAll('[data-needs]').forEach((a) => { a.hidden = !hasRoute(a.getAttribute('data-needs')); });
  tzSwitch();
  window.addEventListener('hashchange', route);
  route();
})();

/* sipscope web UI: call list, call detail (SIP ladder, RTP streams and charts), dashboard.
 * Plain JavaScript, no build step. Every text from the API goes into the page through
 * textContent or SVG text nodes, never as HTML. */
'use strict';

(function () {
  const STATES = ['setup', 'ringing', 'in_call', 'completed', 'rejected', 'cancelled'];
  const STATE_COLORS = {
    setup: '#8a94a6', ringing: '#d4a017', in_call: '#2f7fd8',
    completed: '#2e9d5b', rejected: '#d64545', cancelled: '#9b59b6',
  };
  const PALETTE = ['#2f7fd8', '#e8803a', '#2e9d5b', '#d64545', '#9b59b6', '#17a2b8', '#c0a000',
    '#6c757d'];
  const REFRESH_MS = 5000;

  const view = document.getElementById('view');
  const banner = document.getElementById('banner');
  const statusEl = document.getElementById('status');
  let timers = [];        // intervals of the current view
  let charts = [];        // uPlot instances of the current view (resized with the window)
  let renderSeq = 0;      // a newer render makes older async work drop its results

  // ---- small helpers -------------------------------------------------------------------

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

  function fmtTime(t, withMs) {
    if (t === null || t === undefined) return '—';
    const d = new Date(t * 1000);
    let s = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    if (withMs) s += '.' + pad(d.getMilliseconds(), 3);
    return s;
  }

  function fmtDur(s) {
    if (s === null || s === undefined) return '—';
    if (s < 60) return s.toFixed(1) + ' s';
    const m = Math.floor(s / 60), r = Math.round(s % 60);
    if (m < 60) return `${m}m ${pad(r)}s`;
    return `${Math.floor(m / 60)}h ${pad(m % 60)}m`;
  }

  function fmtMs(v) { return v === null || v === undefined ? '—' : Math.round(v) + ' ms'; }
  function fmtNum(v, d) { return v === null || v === undefined ? '—' : Number(v).toFixed(d); }
  function fmtInt(v) { return v === null || v === undefined ? '—' : Number(v).toLocaleString('en-US'); }
  function fmtPct(v) { return v === null || v === undefined ? '—' : (v * 100).toFixed(1) + ' %'; }

  function mosClass(m) {
    if (m === null || m === undefined) return 'mos-none';
    if (m >= 4.0) return 'mos-good';
    if (m >= 3.6) return 'mos-fair';
    if (m >= 3.1) return 'mos-poor';
    return 'mos-bad';
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

  function lossPct(s) {
    const expected = s.packets + s.lost;
    return expected > 0 ? Math.max(0, s.lost) / expected : 0;
  }

  function showError(msg) {
    banner.textContent = msg;
    banner.hidden = !msg;
  }

  async function api(path, params) {
    const qs = params ? new URLSearchParams(Object.entries(params).filter(([, v]) =>
      v !== '' && v !== null && v !== undefined)).toString() : '';
    const res = await fetch('api/v1/' + path + (qs ? '?' + qs : ''), { credentials: 'same-origin' });
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (res.status === 401) {
      throw new Error('This server needs a token: open the address sipscope printed ' +
        '(it ends with ?access_token=...).');
    }
    if (!res.ok) throw new Error((body && body.error) || `HTTP ${res.status}`);
    return body;
  }

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
    document.querySelectorAll('[data-nav]').forEach((a) =>
      a.classList.toggle('active', a.getAttribute('data-nav') === name));
  }

  function hashParams() {
    const h = location.hash || '';
    const q = h.indexOf('?');
    return new URLSearchParams(q >= 0 ? h.slice(q + 1) : '');
  }

  function setHash(route, params) {
    const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== null &&
      v !== undefined)).toString();
    location.hash = route + (qs ? '?' + qs : '');
  }

  // datetime-local value <-> epoch seconds
  function toLocalInput(t) {
    if (!t) return '';
    const d = new Date(Number(t) * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  function fromLocalInput(v) {
    if (!v) return '';
    const t = new Date(v).getTime();
    return isNaN(t) ? '' : String(Math.floor(t / 1000));
  }

  function chartWidth(container) {
    return Math.max(320, (container.clientWidth || view.clientWidth || 900) - 8);
  }

  window.addEventListener('resize', () => {
    for (const c of charts) {
      const box = c.root.parentElement;
      if (box) c.setSize({ width: chartWidth(box), height: c.height });
    }
  });

  // ---- call list -----------------------------------------------------------------------

  const LIST_FIELDS = ['state', 'from', 'to', 'q', 'min_mos', 'max_mos', 'since', 'until'];

  function renderCalls() {
    const seq = clearView();
    setNav('calls');
    const hp = hashParams();
    const state = {
      filters: Object.fromEntries(LIST_FIELDS.map((f) => [f, hp.get(f) || ''])),
      sort: hp.get('sort') || 'invite_time',
      order: hp.get('order') || 'desc',
      limit: Number(hp.get('limit')) || 50,
      offset: Number(hp.get('offset')) || 0,
    };
    const go = (changes) => {
      const next = Object.assign({}, state.filters, {
        sort: state.sort === 'invite_time' ? '' : state.sort,
        order: state.order === 'desc' ? '' : state.order,
        limit: state.limit === 50 ? '' : state.limit,
        offset: state.offset || '',
      }, changes);
      setHash('#/calls', next);
    };

    // Filter bar
    const f = state.filters;
    const stateSel = el('select', { name: 'state', 'aria-label': 'State' },
      el('option', { value: '', text: 'any state' }),
      STATES.map((s) => el('option', { value: s, selected: f.state === s, text: s.replace('_', ' ') })));
    const input = (name, ph, attrs) => el('input', Object.assign({ name, placeholder: ph, value: f[name], 'aria-label': ph }, attrs || {}));
    const form = el('form', { class: 'filters', id: 'filters' },
      stateSel,
      input('from', 'From user'),
      input('to', 'To user'),
      input('q', 'Search Call-ID / URI', { class: 'wide' }),
      input('min_mos', 'MOS ≥', { type: 'number', step: '0.1', min: '0', max: '5', class: 'narrow' }),
      input('max_mos', 'MOS ≤', { type: 'number', step: '0.1', min: '0', max: '5', class: 'narrow' }),
      el('label', { class: 'inline' }, 'since ', el('input', { name: 'since', type: 'datetime-local', value: toLocalInput(f.since) })),
      el('label', { class: 'inline' }, 'until ', el('input', { name: 'until', type: 'datetime-local', value: toLocalInput(f.until) })),
      el('button', { type: 'submit', class: 'primary', text: 'Filter' }),
      el('button', { type: 'button', text: 'Reset', onclick: () => setHash('#/calls', {}) }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const changes = {};
      for (const name of LIST_FIELDS) {
        let v = (fd.get(name) || '').toString().trim();
        if (name === 'since' || name === 'until') v = fromLocalInput(v);
        changes[name] = v;
      }
      changes.offset = '';
      go(changes);
    });

    const auto = el('input', { type: 'checkbox', id: 'autorefresh' });
    auto.checked = localStorage.getItem('sipscope.autorefresh') === '1';
    const summary = el('span', { class: 'muted', id: 'list-summary' });
    const table = el('table', { class: 'calls', id: 'calls-table' });
    const pager = el('div', { class: 'pager' });
    view.append(
      el('section', { class: 'card' },
        el('div', { class: 'card-head' }, el('h1', { text: 'Calls' }), summary, el('span', { class: 'spacer' }),
          el('label', { class: 'inline', for: 'autorefresh' }, auto, ' auto-refresh')),
        form, table, pager));

    const cols = [
      { key: 'invite_time', label: 'Time', sort: 'invite_time' },
      { key: 'from', label: 'From' },
      { key: 'to', label: 'To' },
      { key: 'state', label: 'State' },
      { key: 'final_status', label: 'Status', cls: 'num' },
      { key: 'post_dial_delay_ms', label: 'PDD', sort: 'pdd', cls: 'num' },
      { key: 'duration_s', label: 'Duration', sort: 'duration', cls: 'num' },
      { key: 'mos', label: 'MOS', sort: 'mos', cls: 'num' },
      { key: 'sip_messages', label: 'Msgs', cls: 'num' },
      { key: 'flags', label: '' },
    ];
    const head = el('tr', {}, cols.map((c) => {
      if (!c.sort) return el('th', { class: c.cls, text: c.label });
      const active = state.sort === c.sort;
      const arrow = active ? (state.order === 'asc' ? ' ▲' : ' ▼') : '';
      return el('th', { class: (c.cls || '') + ' sortable' + (active ? ' sorted' : '') },
        el('a', {
          href: '#', text: c.label + arrow, onclick: (ev) => {
            ev.preventDefault();
            go({ sort: c.sort === 'invite_time' ? '' : c.sort, order: active && state.order === 'desc' ? 'asc' : '', offset: '' });
          },
        }));
    }));
    const tbody = el('tbody');
    table.append(el('thead', {}, head), tbody);

    async function load() {
      const params = Object.assign({}, state.filters, { sort: state.sort, order: state.order, limit: state.limit, offset: state.offset });
      let page;
      try {
        page = await api('calls', params);
      } catch (e) {
        if (seq === renderSeq) showError(e.message);
        return;
      }
      if (seq !== renderSeq) return;
      showError('');
      const rows = page.calls.map((c) => {
        const flags = [];
        if (c.one_way) flags.push(el('span', { class: 'flag warn', title: 'one-way media', text: 'one-way' }));
        if (c.nat) flags.push(el('span', { class: 'flag', title: 'media source differs from SDP (NAT)', text: 'NAT' }));
        return el('tr', {
          class: 'row-' + c.state, 'data-id': c.id, tabindex: '0',
          onclick: () => { location.hash = '#/call/' + c.id; },
          onkeydown: (ev) => { if (ev.key === 'Enter') location.hash = '#/call/' + c.id; },
        },
        el('td', { class: 'nowrap', title: c.call_id, text: fmtTime(c.invite_time) }),
        el('td', { title: c.from, text: uriUser(c.from) }),
        el('td', { title: c.to, text: uriUser(c.to) }),
        el('td', {}, stateBadge(c.state)),
        el('td', { class: 'num', text: c.final_status === null ? '—' : String(c.final_status) }),
        el('td', { class: 'num', text: fmtMs(c.post_dial_delay_ms) }),
        el('td', { class: 'num', text: fmtDur(c.duration_s) }),
        el('td', { class: 'num' }, el('span', { class: 'mos ' + mosClass(c.mos), text: fmtNum(c.mos, 2) })),
        el('td', { class: 'num', text: String(c.sip_messages) }),
        el('td', {}, flags));
      });
      if (rows.length === 0) {
        rows.push(el('tr', {}, el('td', { colspan: cols.length, class: 'empty', text: 'No calls match.' })));
      }
      tbody.replaceChildren(...rows);
      const first = page.total === 0 ? 0 : page.offset + 1;
      const last = page.offset + page.calls.length;
      summary.textContent = `${fmtInt(first)}–${fmtInt(last)} of ${fmtInt(page.total)}`;
      const sizeSel = el('select', { 'aria-label': 'Page size', onchange: (ev) => go({ limit: ev.target.value, offset: '' }) },
        [25, 50, 100, 200].map((n) => el('option', { value: n, selected: n === state.limit, text: n + ' per page' })));
      pager.replaceChildren(
        el('button', { text: '‹ Previous', disabled: state.offset <= 0, onclick: () => go({ offset: Math.max(0, state.offset - state.limit) || '' }) }),
        el('span', { class: 'muted', text: `page ${Math.floor(state.offset / state.limit) + 1} of ${Math.max(1, Math.ceil(page.total / state.limit))}` }),
        el('button', { text: 'Next ›', disabled: last >= page.total, onclick: () => go({ offset: state.offset + state.limit }) }),
        sizeSel);
      statusEl.textContent = 'updated ' + fmtTime(Date.now() / 1000).slice(11);
      view.dataset.loaded = location.hash; // this view's data is on the page (tests wait on it)
    }

    function schedule() {
      timers.forEach(clearInterval);
      timers = [];
      if (auto.checked) timers.push(setInterval(load, REFRESH_MS));
    }
    auto.addEventListener('change', () => {
      localStorage.setItem('sipscope.autorefresh', auto.checked ? '1' : '0');
      schedule();
    });
    schedule();
    load();
  }

  // ---- call detail ---------------------------------------------------------------------

  function messageLabel(m) {
    // Messages that came from a HEP probe carry its id: "INVITE (SDP) [probe 2]".
    const probe = m.probe !== null && m.probe !== undefined ? ' [probe ' + m.probe + ']' : '';
    if (m.request) return m.method + (m.sdp ? ' (SDP)' : '') + probe;
    // "SIP/2.0 200 OK" -> "200 OK"
    const s = (m.summary || '').replace(/^SIP\/2\.0\s+/i, '');
    return (s || String(m.status)) + (m.sdp ? ' (SDP)' : '') + probe;
  }

  function messageClass(m) {
    if (m.request) return 'req';
    if (m.status < 200) return 'prov';
    if (m.status < 300) return 'ok';
    return 'fail';
  }

  // How a message came inside its TCP stream (the API's "via"): a marker and its tooltip. Text,
  // not a lock glyph: many systems have no emoji font.
  const VIA = {
    ws: { mark: 'WS', title: 'Carried in WebSocket frames (RFC 7118)' },
    tls: { mark: 'TLS', title: 'Decrypted from TLS with a key log' },
    wss: { mark: 'WSS', title: 'Decrypted from TLS with a key log, in WebSocket frames (WSS)' },
  };

  // The SIP ladder: one column per endpoint, one arrow per message in time order.
  function ladder(call, onSelect) {
    const msgs = call.messages;
    const hosts = [];
    const add = (h) => { if (h && !hosts.includes(h)) hosts.push(h); };
    // The caller first, then the callee, then whatever else appears.
    add(call.caller);
    add(call.callee);
    msgs.forEach((m) => { add(m.src); add(m.dst); });
    const left = 110, colW = Math.max(190, Math.min(300, 900 / Math.max(1, hosts.length - 1))), top = 58, rowH = 34;
    const width = left + 40 + colW * Math.max(1, hosts.length - 1) + 100;
    const height = top + rowH * msgs.length + 24;
    const x = (h) => left + 40 + colW * hosts.indexOf(h);
    const root = svg('svg', { class: 'ladder', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'SIP ladder diagram' });
    const defs = svg('defs');
    for (const k of ['req', 'prov', 'ok', 'fail']) {
      const mk = svg('marker', { id: 'arrow-' + k, viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '9', markerHeight: '9', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' });
      mk.appendChild(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'head-' + k }));
      defs.appendChild(mk);
    }
    root.appendChild(defs);
    hosts.forEach((h) => {
      const cx = x(h);
      root.appendChild(svg('rect', { x: cx - 85, y: 8, width: 170, height: 26, rx: 5, class: 'host-box' }));
      root.appendChild(svg('text', { x: cx, y: 25, class: 'host-label', 'text-anchor': 'middle' }, h));
      root.appendChild(svg('line', { x1: cx, y1: 34, x2: cx, y2: height - 8, class: 'lifeline' }));
    });
    const t0 = msgs.length ? msgs[0].time : 0;
    const groups = [];
    msgs.forEach((m, i) => {
      const y = top + rowH * i + 16;
      const x1 = x(m.src), x2 = x(m.dst);
      const cls = messageClass(m);
      const g = svg('g', { class: 'msg msg-' + cls, 'data-index': i, tabindex: '0' });
      g.appendChild(svg('text', { x: 8, y: y + 4, class: 'msg-time' }, '+' + (m.time - t0).toFixed(3) + ' s'));
      const via = VIA[m.via];
      const title = svg('title', {}, `${fmtTime(m.time, true)}  ${m.src} → ${m.dst}  ${m.transport.toUpperCase()}${m.via ? ' (' + m.via.toUpperCase() + ')' : ''}  CSeq ${m.cseq} ${m.method}${m.probe != null ? '  probe ' + m.probe : ''}`);
      g.appendChild(title);
      if (via) {
        // Next to the sender's lifeline, on the arrow's side.
        const right = x2 >= x1;
        const mark = svg('text', { x: x1 + (right ? 6 : -6), y: y - 6, class: 'via-mark via-' + m.via, 'text-anchor': right ? 'start' : 'end' }, via.mark);
        mark.appendChild(svg('title', {}, via.title));
        g.appendChild(mark);
      }
      if (x1 === x2) {
        g.appendChild(svg('path', { d: `M${x1},${y - 6} h36 v12 h-36`, class: 'arrow', 'marker-end': `url(#arrow-${cls})`, fill: 'none' }));
        g.appendChild(svg('text', { x: x1 + 42, y: y + 4, class: 'msg-label' }, messageLabel(m)));
      } else {
        g.appendChild(svg('line', { x1, y1: y, x2, y2: y, class: 'hit' }));
        g.appendChild(svg('line', { x1, y1: y, x2: x2 + (x2 > x1 ? -1 : 1), y2: y, class: 'arrow' + (m.transport === 'tcp' ? ' tcp' : ''), 'marker-end': `url(#arrow-${cls})` }));
        g.appendChild(svg('text', { x: (x1 + x2) / 2, y: y - 6, class: 'msg-label', 'text-anchor': 'middle' }, messageLabel(m)));
      }
      const pick = () => {
        groups.forEach((o) => o.classList.remove('selected'));
        g.classList.add('selected');
        onSelect(i);
      };
      g.addEventListener('click', pick);
      g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') pick(); });
      groups.push(g);
      root.appendChild(g);
    });
    root.selectIndex = (i) => { if (groups[i]) groups[i].dispatchEvent(new Event('click')); };
    return root;
  }

  function findings(call) {
    const out = [];
    const streams = call.streams || [];
    const answered = call.answer_time !== null;
    if (call.state === 'rejected') out.push(['bad', `Rejected with ${call.final_status || 'a final error response'}.`]);
    if (call.state === 'cancelled') out.push(['info', 'Cancelled before it was answered.']);
    if (call.state === 'setup') out.push(['info', 'No answer or ringing seen: only the INVITE (and maybe 100 Trying).']);
    if (call.state === 'ringing') out.push(['info', 'Rang, but no final answer was captured.']);
    if (answered && streams.length === 0) out.push(['warn', 'Answered, but no RTP was seen: media may have taken a path the capture does not see.']);
    if (call.one_way) {
      const dirs = streams.filter((s) => s.packets > 0).map((s) => `${s.src} → ${s.dst}`);
      out.push(['bad', 'One-way audio: media flowed in only one direction' + (dirs.length ? ` (${dirs.join(', ')}); nothing came back.` : '.')]);
    }
    for (const s of streams) {
      if (s.sdp_mismatch) out.push(['warn', `NAT: the stream to ${s.dst} comes from ${s.src}, not from the address its SDP announced.`]);
      const lp = lossPct(s);
      if (lp >= 0.01) out.push([lp >= 0.05 ? 'bad' : 'warn', `Packet loss: ${s.src} → ${s.dst} lost ${(lp * 100).toFixed(1)} % (${s.lost} of ${s.packets + s.lost}).`]);
      if (s.max_jitter_ms >= 30) out.push(['warn', `High jitter: ${s.src} → ${s.dst} peaked at ${s.max_jitter_ms.toFixed(1)} ms.`]);
      if (s.mos < 3.6 && s.packets > 0) out.push([s.mos < 3.1 ? 'bad' : 'warn', `Poor voice quality: ${s.src} → ${s.dst} has MOS ${s.mos.toFixed(2)}.`]);
    }
    if (call.nat && !streams.some((s) => s.sdp_mismatch)) out.push(['warn', 'NAT: a media source differs from what SDP announced.']);
    if (call.post_dial_delay_ms !== null && call.post_dial_delay_ms > 5000) out.push(['warn', `Long post-dial delay: ${(call.post_dial_delay_ms / 1000).toFixed(1)} s before the far end answered or rang.`]);
    if (out.length === 0) out.push(['good', answered ? 'No problems found: media both ways, quality good.' : 'No problems found.']);
    return out;
  }

  // Align the samples of several streams on one time axis (uPlot wants shared x values).
  function alignSamples(sets, pick) {
    const xs = Array.from(new Set(sets.flatMap((s) => s.samples.map((p) => p.time)))).sort((a, b) => a - b);
    const index = new Map(xs.map((t, i) => [t, i]));
    const ys = sets.map((s) => {
      const col = new Array(xs.length).fill(null);
      s.samples.forEach((p) => { col[index.get(p.time)] = pick(p); });
      return col;
    });
    return [xs, ...ys];
  }

  function lineChart(box, title, unit, streams, data, opts) {
    const series = [{}].concat(streams.map((s, i) => ({
      label: `${s.src} → ${s.dst}`,
      stroke: PALETTE[i % PALETTE.length],
      width: 2,
      spanGaps: true,
      points: { show: data[0].length < 40 },
      value: (u, v) => v === null || v === undefined ? '—' : v.toFixed(opts.digits) + (unit ? ' ' + unit : ''),
    })));
    const u = new uPlot({
      title,
      width: chartWidth(box),
      height: 220,
      series,
      // One sample would make uPlot stretch the time axis over days: range on the data instead.
      scales: { x: { time: true, range: () => [data[0][0] - 1, data[0][data[0].length - 1] + 1] }, y: opts.range ? { range: opts.range } : {} },
      axes: [{}, { label: unit, size: 56 }],
      legend: { live: true },
    }, data, box);
    charts.push(u);
    return u;
  }

  async function renderCall(id) {
    const seq = clearView();
    setNav('calls');
    let call;
    try {
      call = await api('calls/' + encodeURIComponent(id));
    } catch (e) {
      if (seq === renderSeq) {
        view.append(el('p', {}, el('a', { href: '#/calls', text: '‹ Calls' })));
        showError(e.message);
      }
      return;
    }
    if (seq !== renderSeq) return;
    const dl = (k, v) => el('div', {}, el('dt', { text: k }), el('dd', {}, v));
    const header = el('section', { class: 'card' },
      el('div', { class: 'card-head' },
        el('a', { href: '#/calls', class: 'back', text: '‹ Calls' }),
        el('h1', { class: 'call-title' }, uriUser(call.from) || '?', el('span', { class: 'muted', text: ' → ' }), uriUser(call.to) || '?'),
        stateBadge(call.state),
        el('span', { class: 'spacer' }),
        el('a', { class: 'button primary', id: 'download-pcap', href: `api/v1/calls/${call.id}/pcap`, download: `sipscope-call-${call.id}.pcap`, title: 'The call as a pcap file: every packet when the capture kept per-call pcaps (--pcap-dir), else its SIP messages', text: '⬇ Download pcap' })),
      el('dl', { class: 'facts' },
        dl('Call-ID', el('code', { text: call.call_id })),
        dl('From', call.from), dl('To', call.to),
        dl('Caller', call.caller || '—'), dl('Callee', call.callee || '—'),
        dl('INVITE', fmtTime(call.invite_time, true)),
        dl('Ringing', fmtTime(call.ringing_time, true)),
        dl('Answered', fmtTime(call.answer_time, true)),
        dl('Ended', fmtTime(call.end_time, true)),
        dl('Final status', call.final_status === null ? '—' : String(call.final_status)),
        dl('Post-dial delay', fmtMs(call.post_dial_delay_ms)),
        dl('Duration', fmtDur(call.duration_s)),
        dl('MOS', el('span', { class: 'mos ' + mosClass(call.mos), text: fmtNum(call.mos, 2) })),
        dl('SIP messages', String(call.sip_messages))));
    const findingList = el('ul', { class: 'findings', id: 'findings' },
      findings(call).map(([cls, text]) => el('li', { class: 'finding-' + cls, text })));

    // Ladder and raw message side by side.
    const raw = el('pre', { class: 'raw', id: 'raw-message', text: 'Click an arrow to see the message.' });
    const rawHead = el('div', { class: 'raw-head muted', text: '' });
    let rawMessages = null;
    const select = async (i) => {
      const m = call.messages[i];
      rawHead.textContent = `#${i + 1}  ${fmtTime(m.time, true)}  ${m.src} → ${m.dst}  ${m.transport.toUpperCase()}${VIA[m.via] ? '  ' + VIA[m.via].title : ''}`;
      if (!rawMessages) {
        raw.textContent = 'Loading…';
        try { rawMessages = await api(`calls/${call.id}/messages`); } catch (e) { raw.textContent = e.message; return; }
      }
      const r = rawMessages.find((x) => x.id === m.id);
      raw.textContent = r ? r.raw : '(message not found)';
    };
    const lad = ladder(call, select);
    const ladderCard = el('section', { class: 'card' },
      el('div', { class: 'card-head' }, el('h2', { text: 'SIP ladder' }), el('span', { class: 'muted', text: `${call.messages.length} messages` })),
      el('div', { class: 'split' },
        el('div', { class: 'ladder-box', id: 'ladder' }, call.messages.length ? lad : el('p', { class: 'muted', text: 'No messages stored for this call.' })),
        el('div', { class: 'raw-box' }, rawHead, raw)));

    // Streams
    const streams = call.streams || [];
    const stTable = el('table', { class: 'streams', id: 'streams-table' },
      el('thead', {}, el('tr', {}, ['', 'Source → destination', 'SSRC', 'Codec', 'Packets', 'Lost', 'Jitter mean / max', 'Max Δ', 'MOS', 'Notes']
        .map((h, i) => el('th', { class: i >= 4 && i <= 8 ? 'num' : '', text: h })))),
      el('tbody', {}, streams.length ? streams.map((s, i) => el('tr', {},
        el('td', {}, el('span', { class: 'swatch', style: `background:${PALETTE[i % PALETTE.length]}` })),
        el('td', { class: 'nowrap', text: `${s.src} → ${s.dst}` }),
        el('td', {}, el('code', { text: s.ssrc })),
        el('td', { text: `${s.codec || 'PT ' + s.payload_type}${s.clock_rate ? ' / ' + s.clock_rate : ''}` }),
        el('td', { class: 'num', text: fmtInt(s.packets) }),
        el('td', { class: 'num', text: `${s.lost} (${(lossPct(s) * 100).toFixed(1)} %)` }),
        el('td', { class: 'num', text: `${s.mean_jitter_ms.toFixed(2)} / ${s.max_jitter_ms.toFixed(2)} ms` }),
        el('td', { class: 'num', text: `${s.max_delta_ms.toFixed(1)} ms` }),
        el('td', { class: 'num' }, el('span', { class: 'mos ' + mosClass(s.mos), text: fmtNum(s.mos, 2) })),
        el('td', {}, s.sdp_mismatch ? el('span', { class: 'flag', text: 'NAT' }) : null,
          s.srtp ? el('span', { class: 'flag srtp', title: 'SRTP: ' + (s.srtp_suite || 'suite unknown'), text: 'SRTP' }) : null,
          s.rtcp ? el('span', { class: 'flag', title: 'RTCP seen', text: `RTCP${s.rtcp.rtt_ms !== null ? ' rtt ' + s.rtcp.rtt_ms.toFixed(1) + ' ms' : ''}` }) : null))) :
        el('tr', {}, el('td', { colspan: 10, class: 'empty', text: 'No RTP streams.' }))));
    const chartsBox = el('div', { class: 'charts', id: 'charts' });
    view.append(header,
      el('section', { class: 'card' }, el('h2', { text: 'Findings' }), findingList),
      ladderCard,
      el('section', { class: 'card' }, el('h2', { text: 'RTP streams' }), stTable,
        el('h2', { text: 'Quality over the call' }), chartsBox));

    if (streams.length === 0) {
      chartsBox.append(el('p', { class: 'muted', text: 'No media, so nothing to chart.' }));
      view.dataset.loaded = location.hash;
      return;
    }
    let sets;
    try {
      sets = await Promise.all(streams.map((s) => api(`streams/${s.id}/samples`)));
    } catch (e) {
      if (seq === renderSeq) showError(e.message);
      return;
    }
    if (seq !== renderSeq) return;
    if (!sets.some((s) => s.samples.length)) {
      chartsBox.append(el('p', { class: 'muted', text: 'No quality samples stored for these streams.' }));
      view.dataset.loaded = location.hash;
      return;
    }
    const boxes = ['jitter', 'loss', 'mos'].map((k) => el('div', { class: 'chart', id: 'chart-' + k }));
    chartsBox.append(...boxes);
    lineChart(boxes[0], 'Jitter', 'ms', streams, alignSamples(sets, (p) => p.jitter_ms), { digits: 2 });
    lineChart(boxes[1], 'Packet loss per interval', '%', streams, alignSamples(sets, (p) => {
      const exp = p.packets + p.lost;
      return exp > 0 ? Math.max(0, p.lost) * 100 / exp : 0;
    }), { digits: 1 });
    lineChart(boxes[2], 'MOS', '', streams, alignSamples(sets, (p) => p.mos), { digits: 2, range: [1, 5] });
    view.dataset.loaded = location.hash;
  }

  // ---- dashboard -----------------------------------------------------------------------

  const RANGES = [
    { key: 'all', label: 'All stored' },
    { key: '1h', label: 'Last hour', secs: 3600 },
    { key: '24h', label: 'Last 24 hours', secs: 86400 },
    { key: '7d', label: 'Last 7 days', secs: 7 * 86400 },
  ];

  function stackedBars(box, stats) {
    const xs = stats.series.map((b) => b.time + stats.step / 2);
    const raw = {};
    STATES.forEach((s) => { raw[s] = stats.series.map((b) => b.by_state[s] || 0); });
    // Stack from the bottom (completed) up; draw the tallest first so the others cover it.
    const order = ['completed', 'in_call', 'ringing', 'setup', 'cancelled', 'rejected'];
    const cum = [];
    let acc = xs.map(() => 0);
    for (const s of order) {
      acc = acc.map((v, i) => v + raw[s][i]);
      cum.push({ state: s, data: acc.slice() });
    }
    cum.reverse();
    const bars = uPlot.paths.bars({ size: [0.85, 60], align: 0 });
    const u = new uPlot({
      title: `Calls per ${stats.step >= 3600 ? (stats.step / 3600) + ' h' : (stats.step / 60) + ' min'} by state`,
      width: chartWidth(box),
      height: 260,
      scales: { x: { time: true, range: () => [xs[0] - stats.step, xs[xs.length - 1] + stats.step] }, y: { range: (self, min, max) => [0, Math.max(1, max)] } },
      series: [{}].concat(cum.map((c) => ({
        label: c.state.replace('_', ' '),
        stroke: STATE_COLORS[c.state],
        fill: STATE_COLORS[c.state],
        width: 0,
        paths: bars,
        points: { show: false },
        value: (self, v, si, idx) => idx === null || idx === undefined ? '—' : String(raw[c.state][idx]),
      }))),
      axes: [{}, { label: 'calls', size: 50 }],
    }, [xs].concat(cum.map((c) => c.data)), box);
    charts.push(u);
  }

  function histogram(box, stats) {
    const xs = stats.mos_histogram.map((b) => (b.from + b.to) / 2);
    const ys = stats.mos_histogram.map((b) => b.count);
    const colors = stats.mos_histogram.map((b) => b.from >= 4.0 ? '#2e9d5b' : b.from >= 3.5 ? '#9bbf3a' : b.from >= 3.0 ? '#e8a33a' : '#d64545');
    const u = new uPlot({
      title: 'MOS distribution (calls with media)',
      width: chartWidth(box),
      height: 260,
      scales: { x: { time: false, range: [1, 5] }, y: { range: (self, min, max) => [0, Math.max(1, max)] } },
      series: [{ label: 'MOS', value: (self, v) => v === null ? '—' : `${(v - 0.25).toFixed(1)}–${(v + 0.25).toFixed(1)}` },
        {
          label: 'calls', stroke: '#2f7fd8', width: 0,
          fill: '#2f7fd8',
          paths: uPlot.paths.bars({ size: [0.9, 80], disp: { fill: { unit: 3, values: () => colors } } }),
          points: { show: false },
        }],
      axes: [{ values: (self, ticks) => ticks.map((t) => t.toFixed(1)) }, { label: 'calls', size: 50 }],
    }, [xs, ys], box);
    charts.push(u);
  }

  function trendChart(box, stats) {
    const xs = stats.series.map((b) => b.time + stats.step / 2);
    const u = new uPlot({
      title: 'ASR and mean MOS over time',
      width: chartWidth(box),
      height: 220,
      scales: { x: { time: true, range: () => [xs[0] - stats.step, xs[xs.length - 1] + stats.step] }, asr: { range: [0, 100] }, mos: { range: [1, 5] } },
      series: [{},
        { label: 'ASR', scale: 'asr', stroke: '#2f7fd8', width: 2, spanGaps: true, value: (s, v) => v === null ? '—' : v.toFixed(0) + ' %' },
        { label: 'mean MOS', scale: 'mos', stroke: '#2e9d5b', width: 2, spanGaps: true, value: (s, v) => v === null ? '—' : v.toFixed(2) }],
      axes: [{}, { scale: 'asr', label: 'ASR %', size: 50 }, { scale: 'mos', side: 1, label: 'MOS', grid: { show: false }, size: 50 }],
    }, [xs, stats.series.map((b) => b.asr === null ? null : b.asr * 100), stats.series.map((b) => b.mean_mos)], box);
    charts.push(u);
  }

  async function renderDashboard() {
    const seq = clearView();
    setNav('dashboard');
    const hp = hashParams();
    const rangeKey = hp.get('range') || 'all';
    const range = RANGES.find((r) => r.key === rangeKey) || RANGES[0];
    const auto = el('input', { type: 'checkbox', id: 'dash-autorefresh' });
    auto.checked = localStorage.getItem('sipscope.autorefresh') === '1';
    const head = el('section', { class: 'card' },
      el('div', { class: 'card-head' }, el('h1', { text: 'Dashboard' }),
        el('div', { class: 'segmented' }, RANGES.map((r) => el('a', { href: '#/dashboard?range=' + r.key, class: r.key === range.key ? 'active' : '', text: r.label }))),
        el('span', { class: 'spacer' }),
        el('label', { class: 'inline', for: 'dash-autorefresh' }, auto, ' auto-refresh')));
    const tiles = el('div', { class: 'tiles', id: 'tiles' });
    const chartBox = el('div', { class: 'chart', id: 'chart-calls' });
    const histBox = el('div', { class: 'chart', id: 'chart-mos' });
    const trendBox = el('div', { class: 'chart', id: 'chart-trend' });
    const worst = el('tbody');
    const alertRows = el('tbody');
    view.append(head, tiles,
      el('section', { class: 'card' }, el('h2', { text: 'Security alerts' }),
        el('table', { class: 'calls compact', id: 'alerts-table' },
          el('thead', {}, el('tr', {}, ['Last seen', 'Type', 'Source', 'Target', 'User agent', 'Requests', '401 / 403', 'State']
            .map((h) => el('th', { text: h })))), alertRows)),
      el('section', { class: 'card' }, chartBox, trendBox),
      el('div', { class: 'two' },
        el('section', { class: 'card' }, histBox),
        el('section', { class: 'card' }, el('h2', { text: 'Worst calls by MOS' }),
          el('table', { class: 'calls compact', id: 'worst-table' },
            el('thead', {}, el('tr', {}, ['Time', 'From', 'To', 'State', 'MOS'].map((h) => el('th', { text: h })))), worst))));

    async function load() {
      const params = {};
      if (range.secs) {
        const now = Date.now() / 1000;
        params.since = Math.floor(now - range.secs);
        params.until = Math.ceil(now);
      }
      let stats, worstCalls, alerts;
      try {
        [stats, worstCalls, alerts] = await Promise.all([
          api('stats', params),
          api('calls', Object.assign({ sort: 'mos', order: 'asc', min_mos: 0, limit: 10 }, params)),
          api('alerts', Object.assign({ limit: 20 }, params.since ? { since: params.since } : {})),
        ]);
      } catch (e) {
        if (seq === renderSeq) showError(e.message);
        return;
      }
      if (seq !== renderSeq) return;
      showError('');
      const tile = (label, value, sub, cls) => el('div', { class: 'tile ' + (cls || '') },
        el('div', { class: 'tile-label', text: label }), el('div', { class: 'tile-value', text: value }),
        sub ? el('div', { class: 'tile-sub muted', text: sub }) : null);
      tiles.replaceChildren(
        tile('Calls', fmtInt(stats.calls), stats.since ? `${fmtTime(stats.since)} – ${fmtTime(stats.until)}` : 'none stored'),
        tile('Answered', fmtInt(stats.answered), `${fmtInt(stats.by_state.rejected)} rejected, ${fmtInt(stats.by_state.cancelled)} cancelled`),
        tile('ASR', fmtPct(stats.asr), 'answered / attempted'),
        tile('ACD', fmtDur(stats.acd_s), 'mean duration of answered calls'),
        tile('Mean PDD', fmtMs(stats.mean_pdd_ms), 'INVITE to ringing or answer'),
        tile('Mean MOS', fmtNum(stats.mean_mos, 2), `${fmtInt(stats.with_mos)} calls with media`, mosClass(stats.mean_mos)));
      charts.forEach((c) => c.destroy());
      charts = [];
      chartBox.replaceChildren();
      histBox.replaceChildren();
      trendBox.replaceChildren();
      if (stats.series.length) {
        stackedBars(chartBox, stats);
        trendChart(trendBox, stats);
      } else {
        chartBox.append(el('p', { class: 'muted', text: 'No calls in this range.' }));
      }
      histogram(histBox, stats);
      alertRows.replaceChildren(...(alerts.alerts.length ? alerts.alerts.map((a) => el('tr', { class: 'row-alert' },
        el('td', { class: 'nowrap', text: fmtTime(a.last_time) }),
        el('td', {}, el('span', { class: 'badge alert-' + a.type, text: a.type.replace(/_/g, ' ') })),
        el('td', { class: 'mono', text: a.source || '(many)' }),
        el('td', { text: a.target || '—' }),
        el('td', { text: a.user_agent || '—' }),
        el('td', { class: 'num', text: fmtInt(a.count) }),
        el('td', { class: 'num', text: `${fmtInt(a.r401)} / ${fmtInt(a.r403)}` }),
        el('td', { text: a.open ? 'ongoing' : 'ended' }))) :
        [el('tr', {}, el('td', { colspan: 8, class: 'empty', text: 'No alerts: no floods, password guessing or scanners seen.' }))]));
      worst.replaceChildren(...(worstCalls.calls.length ? worstCalls.calls.map((c) => el('tr', {
        class: 'row-' + c.state, onclick: () => { location.hash = '#/call/' + c.id; },
      },
      el('td', { class: 'nowrap', text: fmtTime(c.invite_time) }),
      el('td', { text: uriUser(c.from) }), el('td', { text: uriUser(c.to) }),
      el('td', {}, stateBadge(c.state)),
      el('td', { class: 'num' }, el('span', { class: 'mos ' + mosClass(c.mos), text: fmtNum(c.mos, 2) })))) :
        [el('tr', {}, el('td', { colspan: 5, class: 'empty', text: 'No calls with media.' }))]));
      statusEl.textContent = 'updated ' + fmtTime(Date.now() / 1000).slice(11);
      view.dataset.loaded = location.hash;
    }
    function schedule() {
      timers.forEach(clearInterval);
      timers = [];
      if (auto.checked) timers.push(setInterval(load, REFRESH_MS));
    }
    auto.addEventListener('change', () => {
      localStorage.setItem('sipscope.autorefresh', auto.checked ? '1' : '0');
      schedule();
    });
    schedule();
    load();
  }

  // ---- registrations ---------------------------------------------------------------------

  async function renderRegistrations() {
    const seq = clearView();
    setNav('registrations');
    const hp = hashParams();
    const user = el('input', { type: 'search', id: 'reg-user', placeholder: 'user', value: hp.get('user') || '' });
    const active = el('select', { id: 'reg-active' },
      [['', 'all'], ['true', 'active'], ['false', 'inactive']].map(([v, t]) =>
        el('option', { value: v, text: t, selected: (hp.get('active') || '') === v ? '' : null })));
    const form = el('form', { class: 'filters', onsubmit: (ev) => {
      ev.preventDefault();
      setHash('#/registrations', { user: user.value.trim(), active: active.value });
    } }, el('label', {}, 'User ', user), el('label', {}, 'State ', active), el('button', { type: 'submit', text: 'Filter' }));
    const rows = el('tbody');
    const total = el('span', { class: 'muted' });
    view.append(el('section', { class: 'card' },
      el('div', { class: 'card-head' }, el('h1', { text: 'Registrations' }), total), form,
      el('table', { class: 'calls', id: 'registrations-table' },
        el('thead', {}, el('tr', {}, ['Address of record', 'Contact', 'Source', 'User agent', 'Outcome', 'Expires', 'Attempts', 'Failures', 'Last seen']
          .map((h) => el('th', { text: h })))), rows)));
    const params = { limit: 200 };
    if (hp.get('user')) params.user = hp.get('user');
    if (hp.get('active')) params.active = hp.get('active');
    let regs;
    try {
      regs = await api('registrations', params);
    } catch (e) {
      if (seq === renderSeq) showError(e.message);
      return;
    }
    if (seq !== renderSeq) return;
    showError('');
    total.textContent = `${fmtInt(regs.total)} bindings`;
    rows.replaceChildren(...(regs.registrations.length ? regs.registrations.map((r) => el('tr', { class: r.active ? 'row-completed' : 'row-rejected' },
      el('td', { text: r.aor }), el('td', { class: 'mono', text: r.contact || '—' }),
      el('td', { class: 'mono', text: r.source || '—' }), el('td', { text: r.user_agent || '—' }),
      el('td', {}, el('span', { class: 'badge outcome-' + r.outcome, text: r.active ? 'active' : r.outcome })),
      el('td', { class: 'nowrap', text: r.expires_time ? fmtTime(r.expires_time) : '—' }),
      el('td', { class: 'num', text: fmtInt(r.attempts) }), el('td', { class: 'num', text: fmtInt(r.failures) }),
      el('td', { class: 'nowrap', text: fmtTime(r.last_time) }))) :
      [el('tr', {}, el('td', { colspan: 9, class: 'empty', text: 'No registrations stored.' }))]));
    view.dataset.loaded = location.hash;
  }

  // ---- router --------------------------------------------------------------------------

  function route() {
    const h = location.hash || '#/calls';
    const path = h.split('?')[0];
    let m;
    if ((m = /^#\/call\/(\d+)$/.exec(path))) renderCall(m[1]);
    else if (path === '#/dashboard') renderDashboard();
    else if (path === '#/registrations') renderRegistrations();
    else renderCalls();
  }

  window.addEventListener('hashchange', route);
  route();
})();

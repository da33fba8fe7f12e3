/* sipscope web UI: the dashboard (#/dashboard): tiles (calls in progress, one-way and NAT calls
 * when the server counts them), calls per step by state, ASR and MOS over time (drag to zoom),
 * MOS distribution, the worst calls and the latest alerts. Ranges count back from the newest
 * stored call, not from the browser's clock. */
'use strict';

const STATE_COLORS = {
  setup: '#8a94a6', ringing: '#d4a017', in_call: '#2f7fd8',
  completed: '#2e9d5b', rejected: '#d64545', cancelled: '#9b59b6',
};

// Drag across a time chart: show that range (it goes into the URL, so it can be shared).
function zoomHook(route) {
  return (u) => {
    if (!u.select || u.select.width < 4) return;
    const since = Math.floor(u.posToVal(u.select.left, 'x'));
    const until = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x'));
    const o = Object.fromEntries(hashParams());
    delete o.range;
    setHash(route, Object.assign(o, { since, until }));
  };
}

function stepLabel(step) {
  if (step >= 86400) return (step / 86400) + ' day' + (step > 86400 ? 's' : '');
  if (step >= 3600) return (step / 3600) + ' h';
  return (step / 60) + ' min';
}

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
  // Legend without a pointer: the whole range's count per state.
  const total = (s) => raw[s].reduce((a, b) => a + b, 0);
  const u = new uPlot({
    title: `Calls per ${stepLabel(stats.step)} by state (drag to zoom)`,
    width: chartWidth(box),
    height: 260,
    tzDate: tzDateOpt(),
    cursor: { drag: { x: true, y: false, setScale: false } },
    scales: { x: { time: true, range: () => [xs[0] - stats.step, xs[xs.length - 1] + stats.step] }, y: { range: (self, min, max) => [0, Math.max(1, max)] } },
    series: [{ value: (self, v) => v === null ? 'whole range' : fmtTime(v - stats.step / 2) }].concat(cum.map((c) => ({
      label: c.state.replace('_', ' '),
      stroke: STATE_COLORS[c.state],
      fill: STATE_COLORS[c.state],
      width: 0,
      paths: bars,
      points: { show: false },
      value: (self, v, si, idx) => idx === null || idx === undefined ? fmtInt(total(c.state)) : String(raw[c.state][idx]),
    }))),
    axes: [themedAxis({ values: axisTimes, space: 70 }), themedAxis({ label: 'calls', size: 50 })],
    hooks: { setSelect: [zoomHook('#/dashboard')] },
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
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false, range: [1, 5] }, y: { range: (self, min, max) => [0, Math.max(1, max)] } },
    series: [{ label: 'MOS', value: (self, v) => v === null ? '1.0–5.0' : `${(v - 0.25).toFixed(1)}–${(v + 0.25).toFixed(1)}` },
      {
        label: 'calls', stroke: '#2f7fd8', width: 0,
        fill: '#2f7fd8',
        paths: uPlot.paths.bars({ size: [0.9, 80], disp: { fill: { unit: 3, values: () => colors } } }),
        points: { show: false },
        value: (self, v, si, idx) => idx === null || idx === undefined ? fmtInt(ys.reduce((a, b) => a + b, 0)) : fmtInt(v),
      }],
    axes: [themedAxis({ values: (self, ticks) => ticks.map((t) => t.toFixed(1)) }), themedAxis({ label: 'calls', size: 50 })],
  }, [xs, ys], box);
  charts.push(u);
}

function trendChart(box, stats) {
  const xs = stats.series.map((b) => b.time + stats.step / 2);
  const asr = stats.series.map((b) => b.asr === null ? null : b.asr * 100);
  const mos = stats.series.map((b) => b.mean_mos);
  const u = new uPlot({
    title: 'ASR (%) and mean MOS over time (drag to zoom)',
    width: chartWidth(box),
    height: 220,
    tzDate: tzDateOpt(),
    cursor: { drag: { x: true, y: false, setScale: false } },
    scales: { x: { time: true, range: () => [xs[0] - stats.step, xs[xs.length - 1] + stats.step] }, asr: { range: [0, 100] }, mos: { range: [1, 5] } },
    series: [{ value: (s, v) => v === null ? 'whole range' : fmtTime(v - stats.step / 2) },
      { label: 'ASR', scale: 'asr', stroke: '#2f7fd8', width: 2, spanGaps: true, value: (s, v, si, idx) => idx === null || idx === undefined ? fmtPct(stats.asr) : v === null ? '—' : v.toFixed(0) + ' %' },
      { label: 'mean MOS', scale: 'mos', stroke: '#2e9d5b', width: 2, spanGaps: true, value: (s, v, si, idx) => idx === null || idx === undefined ? fmtNum(stats.mean_mos, 2) : v === null ? '—' : v.toFixed(2) }],
    axes: [themedAxis({ values: axisTimes, space: 70 }), themedAxis({ scale: 'asr', label: 'ASR %', size: 50 }),
      themedAxis({ scale: 'mos', side: 1, label: 'MOS', grid: { show: false }, size: 50 })],
    hooks: { setSelect: [zoomHook('#/dashboard')] },
  }, [xs, asr, mos], box);
  charts.push(u);
}

function tile(label, value, sub, cls, href, id) {
  const body = [el('div', { class: 'tile-label', text: label }), el('div', { class: 'tile-value', text: value }),
    sub ? el('div', { class: 'tile-sub muted', text: sub }) : null];
  return href ? el('a', { class: 'tile link ' + (cls || ''), href, id }, body) : el('div', { class: 'tile ' + (cls || ''), id }, body);
}

// A link to the call list with these filters and the dashboard's range (when the list takes them).
function callsLink(filters, range) {
  const p = Object.assign({}, filters);
  if (range.since) p.since = range.since;
  if (range.until) p.until = range.until;
  return '#/calls?' + query(p);
}

function dashTiles(stats, range) {
  const out = [
    tile('Calls', fmtInt(stats.calls), stats.calls ? `${fmtTime(stats.since)} – ${fmtTime(stats.until)}` : 'none stored', '', callsLink({}, range)),
  ];
  if (has(stats, 'active_calls')) {
    out.push(tile('In progress', fmtInt(stats.active_calls), 'calls up now (live capture)', stats.active_calls ? 'live' : '',
      hasParam(CALLS, 'active') ? '#/calls?active=true' : null, 'tile-active'));
  }
  out.push(
    tile('Answered', fmtInt(stats.answered), `${fmtInt(stats.by_state.rejected)} rejected, ${fmtInt(stats.by_state.cancelled)} cancelled`),
    tile('ASR', fmtPct(stats.asr), 'answered / attempted'),
    tile('ACD', fmtDur(stats.acd_s), 'mean duration of answered calls'),
    tile('Mean PDD', fmtMs(stats.mean_pdd_ms), 'INVITE to ringing or answer'),
    tile('Mean MOS', fmtNum(stats.mean_mos, 2), `${fmtInt(stats.with_mos)} calls with media`, mosClass(stats.mean_mos)));
  if (has(stats, 'one_way_calls')) {
    out.push(tile('One-way', fmtInt(stats.one_way_calls), 'media in one direction only', stats.one_way_calls ? 'mos-bad' : '',
      hasParam(CALLS, 'one_way') ? callsLink({ one_way: 'true' }, range) : null, 'tile-one-way'));
  }
  if (has(stats, 'nat_calls')) {
    out.push(tile('NAT', fmtInt(stats.nat_calls), 'media source differs from SDP', stats.nat_calls ? 'mos-poor' : '',
      hasParam(CALLS, 'nat') ? callsLink({ nat: 'true' }, range) : null, 'tile-nat'));
  }
  if (has(stats, 'verdicts') && stats.verdicts) {
    const parts = VERDICTS.filter((v) => stats.verdicts[v]).map((v) => `${fmtInt(stats.verdicts[v])} ${v.replace('_', '-')}`);
    const notGood = VERDICTS.filter((v) => v !== 'good').reduce((a, v) => a + (stats.verdicts[v] || 0), 0);
    out.push(tile('Not good', fmtInt(notGood), parts.join(', ') || 'no calls', notGood ? 'mos-poor' : 'mos-good',
      hasParam(CALLS, 'verdict') ? callsLink({ verdict: 'degraded,poor,one_way,no_media,failed' }, range) : null, 'tile-verdicts'));
  }
  return out;
}

function worstRows(calls) {
  if (!calls.length) return [el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'No calls with media.' }))];
  return calls.map((c) => el('tr', {
    class: 'row-' + (has(c, 'verdict') && c.verdict ? 'v-' + c.verdict : c.state), 'data-id': c.id, tabindex: '0',
    'aria-label': `Call ${uriUser(c.from)} to ${uriUser(c.to)} at ${fmtTime(c.invite_time)}, MOS ${fmtNum(c.mos, 2)}: open`,
    onclick: () => { location.hash = '#/call/' + c.id; },
    onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); location.hash = '#/call/' + c.id; } },
  },
  el('td', { class: 'nowrap' }, el('a', { href: '#/call/' + c.id, tabindex: '-1', text: fmtTime(c.invite_time) })),
  el('td', { text: uriUser(c.from) }), el('td', { text: uriUser(c.to) }),
  el('td', {}, stateBadge(c.state)),
  el('td', {}, has(c, 'verdict') ? verdictBadge(c.verdict) : callFlags(c)),
  el('td', { class: 'num' }, el('span', { class: 'mos ' + callQualityClass(c), text: fmtNum(c.mos, 2) }))));
}

function alertRowsShort(alerts) {
  if (!alerts.length) return [el('tr', {}, el('td', { colspan: 5, class: 'empty', text: 'No alerts: no floods, password guessing or scanners seen.' }))];
  return alerts.map((a) => el('tr', { class: 'row-alert' },
    el('td', { class: 'nowrap', text: fmtTime(a.last_time) }),
    el('td', {}, el('span', { class: 'badge alert-' + a.type, text: a.type.replace(/_/g, ' ') })),
    el('td', { class: 'mono' }, a.source ? el('a', { href: '#/alerts?' + query({ source: hasParam('/api/v1/alerts', 'source') ? a.source : '', type: a.type }), text: a.source }) : '(many)'),
    el('td', { class: 'num', text: fmtInt(a.count) }),
    el('td', { text: a.open ? 'ongoing' : 'ended' })));
}

async function renderDashboard() {
  const seq = clearView();
  setNav('dashboard');
  const hp = hashParams();
  const auto = el('input', { type: 'checkbox', id: 'dash-autorefresh' });
  auto.checked = localStorage.getItem('sipscope.autorefresh') === '1';
  const head = el('section', { class: 'card' },
    el('div', { class: 'card-head' }, el('h1', { text: 'Dashboard' }), el('span', { class: 'spacer' }),
      el('label', { class: 'inline', for: 'dash-autorefresh' }, auto, ' auto-refresh')),
    rangePicker(hp, '#/dashboard'));
  const tiles = el('div', { class: 'tiles', id: 'tiles' });
  const chartBox = el('div', { class: 'chart', id: 'chart-calls' });
  const histBox = el('div', { class: 'chart', id: 'chart-mos' });
  const trendBox = el('div', { class: 'chart', id: 'chart-trend' });
  const worst = el('tbody');
  const alertRows = el('tbody');
  const worstByVerdict = caps.callSorts.has('worst');
  view.append(head, tiles,
    el('section', { class: 'card' }, el('h2', { text: worstByVerdict ? 'Worst calls (by verdict, then MOS)' : 'Worst calls by MOS' }),
      tableWrap(el('table', { class: 'calls compact', id: 'worst-table' },
        el('thead', {}, el('tr', {}, ['Time', 'From', 'To', 'State', worstByVerdict ? 'Verdict' : 'Flags', 'MOS'].map((h, i) => el('th', { class: i === 5 ? 'num' : null, text: h })))), worst))),
    el('section', { class: 'card' }, chartBox, trendBox),
    el('div', { class: 'two' },
      el('section', { class: 'card' }, histBox),
      el('section', { class: 'card' },
        el('div', { class: 'card-head' }, el('h2', { text: 'Latest security alerts' }), el('span', { class: 'spacer' }), el('a', { href: '#/alerts', text: 'All alerts ›' })),
        tableWrap(el('table', { class: 'calls compact', id: 'alerts-table' },
          el('thead', {}, el('tr', {}, ['Last seen', 'Type', 'Source', 'Requests', 'State'].map((h) => el('th', { text: h })))), alertRows)))));

  let liveTimer = null;
  async function load(tilesOnly) {
    let range;
    try { range = await resolveRange(hp); } catch (e) { range = { since: '', until: '' }; }
    const params = {};
    if (range.since) params.since = range.since;
    if (range.until) params.until = range.until;
    const worstParams = worstByVerdict ? { sort: 'worst', limit: 10 } : { sort: 'mos', order: 'asc', min_mos: 0, limit: 10 };
    let stats, worstCalls, alerts;
    try {
      [stats, worstCalls, alerts] = await Promise.all([
        api('stats', params),
        api('calls', onlyKnown(CALLS, Object.assign(worstParams, params))),
        tilesOnly ? null : api('alerts', onlyKnown('/api/v1/alerts', Object.assign({ limit: 8 }, params))),
      ]);
    } catch (e) {
      if (seq === renderSeq) showError(e.message);
      return;
    }
    if (seq !== renderSeq) return;
    showError('');
    tiles.replaceChildren(...dashTiles(stats, range));
    worst.replaceChildren(...worstRows(worstCalls.calls));
    if (!tilesOnly) {
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
      alertRows.replaceChildren(...alertRowsShort(alerts.alerts));
    }
    // Calls in progress: the tiles and worst calls every 2 s.
    if (stats.active_calls > 0 && !liveTimer) {
      liveTimer = setInterval(() => load(true), LIVE_REFRESH_MS);
      timers.push(liveTimer);
    } else if (!(stats.active_calls > 0) && liveTimer) {
      clearInterval(liveTimer);
      liveTimer = null;
    }
    markUpdated();
    view.dataset.loaded = location.hash;
  }
  function schedule() {
    timers.forEach(clearInterval);
    timers = [];
    liveTimer = null;
    if (auto.checked) timers.push(setInterval(() => load(false), REFRESH_MS));
  }
  auto.addEventListener('change', () => {
    localStorage.setItem('sipscope.autorefresh', auto.checked ? '1' : '0');
    schedule();
  });
  schedule();
  load(false);
}

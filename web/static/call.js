/* sipscope web UI: one call (#/call/ID): summary, verdict and its reasons with links to the
 * evidence, the SIP ladder (SVG, with DTMF events) beside the raw message, the RTP streams and
 * their quality over the call. A call in progress refreshes every 2 s in place. */
'use strict';

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

// The ladder's rows: the messages and the DTMF events, in time order.
function ladderRows(call) {
  const rows = call.messages.map((m, i) => ({ kind: 'msg', time: m.time, m, i }));
  const streams = new Map((call.streams || []).map((s) => [s.id, s]));
  for (const d of Array.isArray(call.dtmf) ? call.dtmf : []) {
    rows.push({ kind: 'dtmf', time: epoch(d.time), d, s: streams.get(d.stream) });
  }
  return rows.sort((a, b) => a.time - b.time || (a.kind === 'msg' ? -1 : 1));
}

// The SIP ladder: one column per endpoint, one arrow per message in time order. A group of
// buttons (each arrow is one, reachable with Tab, Enter shows the message), not an image.
function ladder(call, onSelect, avail) {
  const msgs = call.messages;
  const rows = ladderRows(call);
  const hosts = [];
  const add = (h) => { if (h && !hosts.includes(h)) hosts.push(h); };
  // The caller first, then the callee, then whatever else appears.
  add(call.caller);
  add(call.callee);
  msgs.forEach((m) => { add(m.src); add(m.dst); });
  // Narrow screens (a phone): times above the arrows instead of beside them, columns that fit.
  const compact = avail > 0 && avail < 640;
  const gaps = Math.max(1, hosts.length - 1);
  const left = compact ? 16 : 110;
  const margin = 72;   // compact: half a host box, and room for the times
  const colW = compact ? Math.max(130, (avail - 2 * margin) / gaps) : Math.max(190, Math.min(300, 900 / gaps));
  const boxW = compact ? Math.min(2 * margin - 4, colW - 8) : 170;
  const top = 58, rowH = compact ? 38 : 34;
  const width = compact ? margin + colW * gaps + margin : left + 40 + colW * gaps + 100;
  const height = top + rowH * rows.length + 24;
  const x = (h) => (compact ? margin : left + 40) + colW * hosts.indexOf(h);
  const timeAt = (y) => compact ? { x: 2, y: y - 14 } : { x: 8, y: y + 4 };
  // A media address's column: the SIP host with the same IP, else the caller's or callee's side.
  const mediaX = (addr, fallback) => {
    const h = hosts.find((k) => hostOf(k) === hostOf(addr));
    return h ? x(h) : x(fallback);
  };
  const root = svg('svg', {
    xmlns: SVGNS, class: 'ladder', width, height, viewBox: `0 0 ${width} ${height}`, role: 'group',
    'aria-label': `SIP ladder: ${msgs.length} messages between ${hosts.length} addresses; each arrow is a button that shows its message`,
  });
  const defs = svg('defs');
  for (const k of ['req', 'prov', 'ok', 'fail', 'dtmf']) {
    const mk = svg('marker', { id: 'arrow-' + k, viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '9', markerHeight: '9', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' });
    mk.appendChild(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'head-' + k }));
    defs.appendChild(mk);
  }
  root.appendChild(defs);
  hosts.forEach((h) => {
    const cx = x(h);
    root.appendChild(svg('rect', { x: cx - boxW / 2, y: 8, width: boxW, height: 26, rx: 5, class: 'host-box', 'aria-hidden': 'true' }));
    root.appendChild(svg('text', { x: cx, y: 25, class: 'host-label' + (compact ? ' small' : ''), 'text-anchor': 'middle' }, h));
    root.appendChild(svg('line', { x1: cx, y1: 34, x2: cx, y2: height - 8, class: 'lifeline', 'aria-hidden': 'true' }));
  });
  const t0 = rows.length ? rows[0].time : 0;
  const groups = [];
  rows.forEach((r, row) => {
    const y = top + rowH * row + 16;
    if (r.kind === 'dtmf') {
      const d = r.d, s = r.s;
      // A digit from SIP INFO goes the way its INFO went; one from RTP the way its stream went.
      const info = !s && msgs.find((m) => m.request && m.method === 'INFO' && Math.abs(m.time - r.time) < 0.05);
      const x1 = s ? mediaX(s.src, call.caller) : x(info ? info.src : call.caller);
      let x2 = s ? mediaX(s.dst, call.callee) : x(info ? info.dst : call.callee);
      if (x2 === x1) x2 = x1 + 60;
      const g = svg('g', { class: 'dtmf', 'data-digit': d.digit });
      g.appendChild(svg('title', {}, `DTMF ${d.digit} (${d.via === 'info' ? 'SIP INFO' : 'RFC 4733'}) at ${fmtTime(d.time, true)}, ${d.duration_ms} ms${s ? ', ' + s.src + ' → ' + s.dst : ''}${d.volume !== undefined && d.volume !== null ? ', volume −' + d.volume + ' dBm0' : ''}`));
      g.appendChild(svg('text', Object.assign(timeAt(y), { class: 'msg-time' }), '+' + (r.time - t0).toFixed(3) + ' s'));
      g.appendChild(svg('line', { x1, y1: y, x2: x2 + (x2 > x1 ? -1 : 1), y2: y, class: 'arrow dtmf-arrow', 'marker-end': 'url(#arrow-dtmf)' }));
      const how = d.via === 'info' ? ' (INFO)' : '';
      const cut = d.ended === false ? ', end not seen' : '';
      g.appendChild(svg('text', { x: (x1 + x2) / 2, y: y - 6, class: 'msg-label dtmf-label', 'text-anchor': 'middle' }, `DTMF ${d.digit} · ${d.duration_ms} ms${how}${cut}`));
      root.appendChild(g);
      return;
    }
    const m = r.m, i = r.i;
    const x1 = x(m.src), x2 = x(m.dst);
    const cls = messageClass(m);
    const label = messageLabel(m);
    const g = svg('g', { class: 'msg msg-' + cls, 'data-index': i, 'data-id': m.id, tabindex: '0', role: 'button',
      'aria-label': `+${(m.time - t0).toFixed(3)} s ${label} from ${m.src} to ${m.dst}` });
    g.appendChild(svg('text', Object.assign(timeAt(y), { class: 'msg-time' }), '+' + (m.time - t0).toFixed(3) + ' s'));
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
      g.appendChild(svg('text', { x: x1 + 42, y: y + 4, class: 'msg-label' }, label));
    } else {
      g.appendChild(svg('line', { x1, y1: y, x2, y2: y, class: 'hit' }));
      g.appendChild(svg('line', { x1, y1: y, x2: x2 + (x2 > x1 ? -1 : 1), y2: y, class: 'arrow' + (m.transport === 'tcp' ? ' tcp' : ''), 'marker-end': `url(#arrow-${cls})` }));
      g.appendChild(svg('text', { x: (x1 + x2) / 2, y: y - 6, class: 'msg-label', 'text-anchor': 'middle' }, label));
    }
    const pick = () => {
      groups.forEach((o) => { o.classList.remove('selected'); o.removeAttribute('aria-pressed'); });
      g.classList.add('selected');
      g.setAttribute('aria-pressed', 'true');
      onSelect(i);
    };
    g.addEventListener('click', pick);
    g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pick(); } });
    groups[i] = g;
    root.appendChild(g);
  });
  root.selectIndex = (i) => { if (groups[i]) { groups[i].dispatchEvent(new Event('click')); groups[i].scrollIntoView({ block: 'nearest' }); } };
  return root;
}

// The ladder as a standalone SVG document: the page's ladder rules copied into it.
function ladderSvgText(svgEl) {
  const copy = svgEl.cloneNode(true);
  const rules = [];
  for (const sheet of document.styleSheets) {
    let list;
    try { list = sheet.cssRules; } catch (e) { continue; }
    for (const r of list) if (r.selectorText && r.selectorText.includes('svg.ladder')) rules.push(r.cssText);
  }
  const vars = ['--muted', '--ink', '--line'].map((v) => `${v}: ${cssVar(v)};`).join(' ');
  const style = document.createElementNS(SVGNS, 'style');
  style.textContent = `svg.ladder { ${vars} font-family: sans-serif; background: #fff; --mono: monospace; }\n` + rules.join('\n');
  copy.insertBefore(style, copy.firstChild);
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(copy);
}

function downloadLadderSvg(svgEl, name) {
  const text = ladderSvgText(svgEl);
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  const a = el('a', { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

function lossPct(s) {
  const expected = s.packets + s.lost;
  return expected > 0 ? Math.max(0, s.lost) / expected : 0;
}

// "3 (1.2 %)"; a negative count (more packets than expected: duplicates) shows as 0.
function fmtLoss(s) {
  const lost = Math.max(0, s.lost);
  return `${fmtInt(lost)} (${(lossPct(s) * 100).toFixed(1)} %)`;
}

// Findings worked out in the browser, for a server that gives no verdict reasons.
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
    if (s.sdp_mismatch) out.push(['warn', `NAT: the stream to ${s.dst} comes from ${s.src}, not from the address its SDP announced.`, { stream: s.id }]);
    const lp = lossPct(s);
    if (lp >= 0.01) out.push([lp >= 0.05 ? 'bad' : 'warn', `Packet loss: ${s.src} → ${s.dst} lost ${(lp * 100).toFixed(1)} % (${s.lost} of ${s.packets + s.lost}).`, { stream: s.id }]);
    if (s.max_jitter_ms >= 30) out.push(['warn', `High jitter: ${s.src} → ${s.dst} peaked at ${s.max_jitter_ms.toFixed(1)} ms.`, { stream: s.id }]);
    if (s.mos < 3.6 && s.packets > 0) out.push([s.mos < 3.1 ? 'bad' : 'warn', `Poor voice quality: ${s.src} → ${s.dst} has MOS ${s.mos.toFixed(2)}.`, { stream: s.id }]);
  }
  if (call.nat && !streams.some((s) => s.sdp_mismatch)) out.push(['warn', 'NAT: a media source differs from what SDP announced.']);
  if (call.post_dial_delay_ms !== null && call.post_dial_delay_ms > 5000) out.push(['warn', `Long post-dial delay: ${(call.post_dial_delay_ms / 1000).toFixed(1)} s before the far end answered or rang.`]);
  if (out.length === 0) out.push(['good', answered ? 'No problems found: media both ways, quality good.' : 'No problems found.']);
  return out;
}

// The server's verdict reasons, as [class, text, evidence].
function reasonItems(call) {
  const bad = ['one_way', 'no_media', 'failed', 'poor'].includes(call.verdict);
  if (!call.reasons.length) return [[call.verdict === 'good' ? 'good' : 'info', call.verdict === 'good' ? 'No problems found.' : `Verdict: ${call.verdict.replace('_', '-')}.`]];
  return call.reasons.map((r) => [bad ? 'bad' : 'warn', r.text || r.code,
    { stream: r.stream, message: r.message, figure: r.figure, value: r.value, code: r.code }]);
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

// The last value a series has (what its legend shows when the pointer is elsewhere).
function lastIndex(data) {
  for (let i = data[0].length - 1; i >= 0; i--) if (data.slice(1).some((col) => col[i] !== null && col[i] !== undefined)) return i;
  return data[0].length - 1;
}

// Legend values stay visible: the last sample's, until the pointer picks another one.
function stickyLegend(u) {
  const idx = lastIndex(u.data);
  u.setLegend({ idx });
}

function lineChart(box, title, unit, streams, data, opts) {
  const fmt = (v) => v === null || v === undefined ? '—' : v.toFixed(opts.digits) + (unit ? ' ' + unit : '');
  const series = [{ value: (u, v) => v === null || v === undefined ? '—' : fmtTime(v) }].concat(streams.map((s, i) => ({
    label: `${s.src} → ${s.dst}`,
    stroke: PALETTE[i % PALETTE.length],
    width: 2,
    spanGaps: true,
    points: { show: data[0].length < 40 },
    value: (u, v) => fmt(v),
  })));
  const yRange = opts.range || ((u, min, max) => [0, Math.max(opts.floor || 1, max === null ? 0 : max * 1.15)]);
  const u = new uPlot({
    title: `${title}${unit ? ' (' + unit + ')' : ''}`,
    width: chartWidth(box),
    height: 220,
    series,
    tzDate: tzDateOpt(),
    // One sample would make uPlot stretch the time axis over days: a fixed range around it.
    scales: { x: data[0].length < 2 ? { time: true, range: () => [data[0][0] - 1, data[0][0] + 1] } : { time: true }, y: { range: yRange } },
    axes: [themedAxis({ values: axisTimes, space: 70 }), themedAxis({ label: unit, size: 56 })],
    legend: { live: true },
    hooks: { ready: [stickyLegend], setCursor: [(u) => { if (u.cursor.idx === null || u.cursor.idx === undefined) stickyLegend(u); }] },
  }, data, box);
  charts.push(u);
  // The figures in words too: mean and peak per stream, no pointer needed.
  const sums = el('ul', { class: 'chart-summary' }, streams.map((s, i) => {
    const vals = data[i + 1].filter((v) => v !== null && v !== undefined);
    if (!vals.length) return null;
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    return el('li', {}, el('span', { class: 'swatch', style: `background:${PALETTE[i % PALETTE.length]}` }),
      ` ${s.src} → ${s.dst}: mean ${fmt(mean)}, ${opts.worstLow ? 'lowest ' + fmt(Math.min(...vals)) : 'peak ' + fmt(Math.max(...vals))}`);
  }));
  box.append(sums);
  return u;
}

function callFacts(call) {
  const dl = (k, v) => el('div', {}, el('dt', { text: k }), el('dd', {}, v));
  return el('dl', { class: 'facts' },
    dl('Call-ID', el('code', { text: call.call_id })),
    dl('From', call.from), dl('To', call.to),
    dl('Caller', call.caller || '—'), dl('Callee', call.callee || '—'),
    dl('INVITE', fmtTime(call.invite_time, true)),
    dl('Ringing', fmtTime(call.ringing_time, true)),
    dl('Answered', fmtTime(call.answer_time, true)),
    dl('Ended', call.active ? 'in progress' : fmtTime(call.end_time, true)),
    dl('Final status', call.final_status === null ? '—' : String(call.final_status)),
    dl('Post-dial delay', fmtMs(call.post_dial_delay_ms)),
    dl('Duration', runningDuration(call, Date.now(), { id: 'call-duration' })),
    dl('MOS', el('span', { class: 'mos ' + callQualityClass(call), text: fmtNum(call.mos, 2) })),
    dl('SIP messages', String(call.sip_messages)),
    has(call, 'verdict') ? dl('Verdict', verdictBadge(call.verdict)) : null);
}

function streamsTable(streams, call) {
  // In a call whose media went one way, no stream's MOS is shown green: the call is not good.
  const streamMos = (s) => call.one_way || call.verdict === 'one_way' || call.verdict === 'no_media' ?
    'mos-none' : mosClass(s.mos);
  return el('table', { class: 'streams', id: 'streams-table' },
    el('thead', {}, el('tr', {}, ['', 'Source → destination', 'SSRC', 'Codec', 'Packets', 'Lost', 'Jitter mean / max', 'Max Δ', 'MOS', 'Notes']
      .map((h, i) => el('th', { class: i >= 4 && i <= 8 ? 'num' : '', text: h })))),
    el('tbody', {}, streams.length ? streams.map((s, i) => el('tr', { id: 'stream-' + s.id, tabindex: '-1' },
      el('td', {}, el('span', { class: 'swatch', style: `background:${PALETTE[i % PALETTE.length]}` })),
      el('td', { class: 'nowrap', text: `${s.src} → ${s.dst}` }),
      el('td', {}, el('code', { text: s.ssrc })),
      el('td', { text: `${s.codec || 'PT ' + s.payload_type}${s.clock_rate ? ' / ' + s.clock_rate : ''}` }),
      el('td', { class: 'num', text: fmtInt(s.packets) }),
      el('td', { class: 'num', title: s.lost < 0 ? `${-s.lost} more packets than expected (duplicates)` : null, text: fmtLoss(s) }),
      el('td', { class: 'num nowrap', text: `${s.mean_jitter_ms.toFixed(2)} / ${s.max_jitter_ms.toFixed(2)} ms` }),
      el('td', { class: 'num', text: `${s.max_delta_ms.toFixed(1)} ms` }),
      el('td', { class: 'num' }, el('span', { class: 'mos ' + streamMos(s), title: streamMos(s) === 'mos-none' ? 'this stream\'s own MOS; the call\'s media went one way' : null, text: fmtNum(s.mos, 2) })),
      el('td', {}, s.sdp_mismatch ? el('span', { class: 'flag', text: 'NAT' }) : null,
        s.probe !== null && s.probe !== undefined ? el('span', { class: 'flag', title: 'figures from the quality reports of HEP probe ' + s.probe, text: 'probe ' + s.probe }) : null,
        s.srtp ? el('span', { class: 'flag srtp', title: 'SRTP: ' + (s.srtp_suite || 'suite unknown'), text: 'SRTP' }) : null,
        s.rtcp ? el('span', { class: 'flag', title: 'RTCP seen', text: `RTCP${s.rtcp.rtt_ms !== null && s.rtcp.rtt_ms !== undefined ? ' rtt ' + s.rtcp.rtt_ms.toFixed(1) + ' ms' : ''}` }) : null))) :
      el('tr', {}, el('td', { colspan: 10, class: 'empty', text: 'No RTP streams.' }))));
}

function dtmfList(call) {
  if (!Array.isArray(call.dtmf) || !call.dtmf.length) return null;
  return el('p', { class: 'dtmf-list', id: 'dtmf' }, el('strong', { text: 'DTMF: ' }),
    call.dtmf.map((d) => el('span', { class: 'dtmf-digit', title: `${fmtTime(d.time, true)}, ${d.duration_ms} ms, ${d.via === 'info' ? 'SIP INFO' : 'RFC 4733'}`, text: d.digit })));
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

  const title = el('h1', { class: 'call-title' });
  const badges = el('span', { class: 'badges' });
  const factsBox = el('div');
  const header = el('section', { class: 'card' },
    el('div', { class: 'card-head' },
      el('a', { href: '#/calls', class: 'back', text: '‹ Calls' }), title, badges,
      el('span', { class: 'spacer' }),
      el('a', { class: 'button primary', id: 'download-pcap', href: `api/v1/calls/${call.id}/pcap`, download: `sipscope-call-${call.id}.pcap`, title: 'The call as a pcap file: every packet when the capture kept per-call pcaps (--pcap-dir), else its SIP messages', text: '⬇ pcap' })),
    factsBox);
  const findingHead = el('h2');
  const findingList = el('ul', { class: 'findings', id: 'findings' });

  // Ladder and raw message side by side.
  const raw = el('pre', { class: 'raw', id: 'raw-message', tabindex: '0', 'aria-live': 'polite', text: 'Click an arrow (or Tab to it and press Enter) to see the message.' });
  const rawHead = el('div', { class: 'raw-head muted', text: '' });
  let rawMessages = null;
  const select = async (i) => {
    const m = call.messages[i];
    rawHead.textContent = `#${i + 1}  ${fmtTime(m.time, true)}  ${m.src} → ${m.dst}  ${m.transport.toUpperCase()}${VIA[m.via] ? '  ' + VIA[m.via].title : ''}`;
    if (!rawMessages || !rawMessages.some((x) => x.id === m.id)) {
      raw.textContent = 'Loading…';
      try { rawMessages = await api(`calls/${call.id}/messages`); } catch (e) { raw.textContent = e.message; return; }
    }
    const r = rawMessages.find((x) => x.id === m.id);
    raw.textContent = r ? r.raw : '(message not found)';
  };
  const ladderBox = el('div', { class: 'ladder-box', id: 'ladder' });
  const ladderCount = el('span', { class: 'muted' });
  const dtmfBox = el('div');
  const ladderExports = el('span', { class: 'exports' },
    el('button', { type: 'button', id: 'export-svg', text: '⬇ SVG', title: 'The ladder as an SVG file', onclick: () => { const s = ladderBox.querySelector('svg'); if (s) downloadLadderSvg(s, `sipscope-call-${call.id}-ladder.svg`); } }),
    hasRoute('/api/v1/calls/{id}/ladder.txt') ? el('a', { class: 'button', id: 'export-ladder-txt', href: `api/v1/calls/${call.id}/ladder.txt`, download: `sipscope-call-${call.id}-ladder.txt`, text: '⬇ text' }) : null);
  const ladderCard = el('section', { class: 'card' },
    el('div', { class: 'card-head' }, el('h2', { text: 'SIP ladder' }), ladderCount, el('span', { class: 'spacer' }), ladderExports),
    dtmfBox,
    el('div', { class: 'split' }, ladderBox, el('div', { class: 'raw-box' }, rawHead, raw)));
  const streamsBox = el('div', { class: 'table-wrap' });
  const chartsBox = el('div', { class: 'charts', id: 'charts' });
  view.append(header,
    el('section', { class: 'card' }, findingHead, findingList),
    ladderCard,
    el('section', { class: 'card' }, el('h2', { text: 'RTP streams' }), streamsBox,
      el('h2', { text: 'Quality over the call' }), chartsBox));

  // Evidence links: a stream row, or a message in the ladder.
  const showStream = (sid) => {
    const row = document.getElementById('stream-' + sid);
    if (!row) return;
    row.classList.add('highlight');
    row.scrollIntoView({ block: 'center' });
    row.focus();
    setTimeout(() => row.classList.remove('highlight'), 2500);
  };
  const showMessage = (mid) => {
    const i = call.messages.findIndex((m) => m.id === mid);
    const s = ladderBox.querySelector('svg');
    if (i >= 0 && s) s.selectIndex(i);
    else if (hasRoute('/api/v1/messages/{id}')) location.hash = '#/message/' + mid;
  };
  const evidence = (ev) => {
    if (!ev) return null;
    const links = [];
    if (ev.stream !== null && ev.stream !== undefined) links.push(el('a', { href: '#stream-' + ev.stream, class: 'evidence', onclick: (e) => { e.preventDefault(); showStream(ev.stream); }, text: 'stream' }));
    if (ev.message !== null && ev.message !== undefined) links.push(el('a', { href: '#/message/' + ev.message, class: 'evidence', onclick: (e) => { e.preventDefault(); showMessage(ev.message); }, text: 'message' }));
    if (ev.figure) links.push(el('span', { class: 'muted', text: `${ev.figure} = ${ev.value === null || ev.value === undefined ? '—' : ev.value}` }));
    return links.length ? el('span', { class: 'evidence-links' }, ' ', links.flatMap((l, k) => (k ? [' · ', l] : [l]))) : null;
  };

  let shownMessages = -1;
  let drawnSamples = '';
  async function fill() {
    title.replaceChildren(uriUser(call.from) || '?', el('span', { class: 'muted', text: ' → ' }), uriUser(call.to) || '?');
    badges.replaceChildren(...[stateBadge(call.state), has(call, 'verdict') ? verdictBadge(call.verdict) : null, ...callFlags(call)].filter(Boolean));
    factsBox.replaceChildren(callFacts(call));
    const useReasons = has(call, 'verdict') && Array.isArray(call.reasons);
    findingHead.textContent = useReasons ? 'Verdict and reasons' : 'Findings';
    findingList.replaceChildren(...(useReasons ? reasonItems(call) : findings(call)).map(([cls, text, ev]) =>
      el('li', { class: 'finding-' + cls }, text, evidence(ev))));
    ladderCount.textContent = `${call.messages.length} messages`;
    dtmfBox.replaceChildren(...[dtmfList(call)].filter(Boolean));
    if (call.messages.length !== shownMessages) {
      shownMessages = call.messages.length;
      ladderBox.replaceChildren(call.messages.length ? ladder(call, select, ladderBox.clientWidth - 2) : el('p', { class: 'muted', text: 'No messages stored for this call.' }));
    }
    const streams = call.streams || [];
    streamsBox.replaceChildren(streamsTable(streams, call));
    await drawCharts(streams);
  }

  async function drawCharts(streams) {
    if (streams.length === 0) {
      charts.forEach((c) => c.destroy()); charts = [];
      chartsBox.replaceChildren(el('p', { class: 'muted', text: 'No media, so nothing to chart.' }));
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
    const key = JSON.stringify(sets.map((s) => [s.stream, s.samples.length, s.samples.length ? s.samples[s.samples.length - 1].packets : 0]));
    if (key === drawnSamples) return;   // nothing new: keep the charts (and any zoom)
    drawnSamples = key;
    charts.forEach((c) => c.destroy()); charts = [];
    chartsBox.replaceChildren();
    if (!sets.some((s) => s.samples.length)) {
      chartsBox.append(el('p', { class: 'muted', text: 'No quality samples stored for these streams.' }));
      return;
    }
    const boxes = ['jitter', 'loss', 'mos'].map((k) => el('div', { class: 'chart', id: 'chart-' + k }));
    chartsBox.append(el('p', { class: 'muted hint', text: 'Drag across a chart to zoom in, double-click to zoom out.' }), ...boxes);
    lineChart(boxes[0], 'Jitter', 'ms', streams, alignSamples(sets, (p) => p.jitter_ms), { digits: 2, floor: 1 });
    lineChart(boxes[1], 'Packet loss per interval', '%', streams, alignSamples(sets, (p) => {
      const exp = p.packets + p.lost;
      return exp > 0 ? Math.max(0, p.lost) * 100 / exp : 0;
    }), { digits: 1, floor: 1 });
    lineChart(boxes[2], 'MOS', '', streams, alignSamples(sets, (p) => p.mos), { digits: 2, range: [1, 5], worstLow: true });
  }

  await fill();
  if (seq !== renderSeq) return;
  view.dataset.loaded = location.hash;
  if (call.active) {
    // In progress: the same page, refreshed in place every 2 s until the call is finished.
    const tick = setInterval(tickDurations, 1000);
    const poll = setInterval(async () => {
      let next;
      try { next = await api('calls/' + encodeURIComponent(id)); } catch (e) { showError(e.message); return; }
      if (seq !== renderSeq) return;
      showError('');
      call = next;
      await fill();
      markUpdated();
      if (!call.active) { clearInterval(poll); clearInterval(tick); }
    }, LIVE_REFRESH_MS);
    timers.push(tick, poll);
  }
}

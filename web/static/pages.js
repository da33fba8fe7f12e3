/* sipscope web UI: messages that are not calls (#/messages, #/message/ID: REGISTER, OPTIONS,
 * SUBSCRIBE, NOTIFY, MESSAGE...), security alerts (#/alerts: filters, a timeline, each alert's
 * evidence messages) and registrations (#/registrations). */
'use strict';

const MESSAGES = '/api/v1/messages';
const ALERTS = '/api/v1/alerts';
const SIP_METHODS = ['REGISTER', 'OPTIONS', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'PUBLISH', 'INFO', 'REFER',
  'UPDATE', 'PRACK', 'INVITE', 'ACK', 'BYE', 'CANCEL'];
const ALERT_TYPES = ['invite_flood', 'register_flood', 'auth_failure', 'user_enumeration', 'unusual_destination', 'scanner'];

function noRoute(name, route) {
  view.append(el('section', { class: 'card' }, el('h1', { text: name }),
    el('p', { class: 'muted', text: `This server has no ${route} route (an older sipscope): nothing to show.` })));
  view.dataset.loaded = location.hash;
}

// "REGISTER" for a request, "401 Unauthorized (REGISTER)" for a response.
function messageTitle(m) {
  if (m.request) return m.method;
  return `${m.status}${m.summary ? ' ' + m.summary.replace(/^SIP\/2\.0\s+\d+\s*/i, '') : ''} (${m.method})`;
}

function pagerOf(box, page, items, go, limit, offset) {
  const last = offset + items;
  box.replaceChildren(
    el('button', { type: 'button', text: '‹ Previous', disabled: offset <= 0, onclick: () => go({ offset: Math.max(0, offset - limit) || '' }) }),
    el('span', { class: 'muted', text: `page ${Math.floor(offset / limit) + 1} of ${Math.max(1, Math.ceil(page.total / limit))}` }),
    el('button', { type: 'button', text: 'Next ›', disabled: last >= page.total, onclick: () => go({ offset: offset + limit }) }));
}

function messageFacts(m) {
  const dl = (k, v) => el('div', {}, el('dt', { text: k }), el('dd', {}, v));
  return el('dl', { class: 'facts' },
    dl('Time', fmtTime(m.time, true)),
    dl('Message', messageTitle(m)),
    dl('From', m.from || '—'), dl('To', m.to || '—'),
    dl('Source → destination', `${m.src || '?'} → ${m.dst || '?'} ${m.transport ? m.transport.toUpperCase() : ''}`),
    dl('CSeq', m.cseq === null || m.cseq === undefined ? '—' : `${m.cseq} ${m.method}`),
    dl('User agent', m.user_agent || '—'),
    dl('Call-ID', el('code', { text: m.call_id || '—' })),
    dl('Call', m.call !== null && m.call !== undefined ? el('a', { href: '#/call/' + m.call, text: 'call ' + m.call }) : 'not part of a call'),
    m.probe !== null && m.probe !== undefined ? dl('HEP probe', String(m.probe)) : null);
}

async function renderMessages() {
  const seq = clearView();
  setNav('messages');
  if (!hasRoute(MESSAGES)) return noRoute('Messages', '/api/v1/messages');
  const hp = hashParams();
  const limit = Number(hp.get('limit')) || 50;
  const offset = Number(hp.get('offset')) || 0;
  const current = () => Object.fromEntries(hashParams());
  const go = (changes) => setHash('#/messages', Object.assign(current(), changes));
  const fields = [
    { name: 'method', label: 'Method', kind: 'select', options: SIP_METHODS },
    { name: 'user', label: 'User', kind: 'text' },
    { name: 'src', label: 'Source IP or CIDR', kind: 'text' },
    { name: 'status', label: 'Status', kind: 'text', narrowish: true },
    { name: 'search', label: 'Full text (headers, body)', kind: 'text' },
  ].filter((f) => hasParam(MESSAGES, f.name));
  const form = el('form', { class: 'filters', id: 'msg-filters' },
    el('div', { class: 'filter-row' }, fields.map((f) => {
      const id = 'm-' + f.name;
      const input = f.kind === 'select' ?
        el('select', { name: f.name, id }, el('option', { value: '', text: 'any' }), f.options.map((o) => el('option', { value: o, selected: hp.get(f.name) === o, text: o }))) :
        el('input', { type: 'search', name: f.name, id, value: hp.get(f.name) || '', class: f.narrowish ? 'narrow' : null });
      return el('label', { class: 'field', for: id }, el('span', { text: f.label }), input);
    }), el('button', { type: 'submit', class: 'primary', text: 'Filter' }),
    el('button', { type: 'button', text: 'Reset', onclick: () => setHash('#/messages', {}) })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fd = new FormData(form);
    const ch = { offset: '' };
    for (const f of fields) ch[f.name] = (fd.get(f.name) || '').toString().trim();
    go(ch);
  });
  const summary = el('span', { class: 'muted', id: 'messages-summary' });
  const rows = el('tbody');
  const pager = el('div', { class: 'pager' });
  view.append(el('section', { class: 'card' },
    el('div', { class: 'card-head' }, el('h1', { text: 'Messages' }), summary),
    el('p', { class: 'muted', text: 'Every stored SIP message, calls or not: REGISTER, OPTIONS, SUBSCRIBE, NOTIFY, MESSAGE… Click a message (or Tab to it and press Enter) to read it.' }),
    rangePicker(hp, '#/messages'), form,
    tableWrap(el('table', { class: 'calls compact', id: 'messages-table' },
      el('thead', {}, el('tr', {}, ['Time', 'Message', 'From', 'To', 'Source → destination', 'User agent', 'Call']
        .map((h, i) => el('th', { class: i >= 4 && i <= 5 ? 'opt' : null, text: h })))), rows)), pager));

  // The message, raw, in a row under its own (one open at a time).
  const show = async (m, tr) => {
    const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains('raw-row');
    rows.querySelectorAll('tr.raw-row').forEach((r) => r.remove());
    rows.querySelectorAll('tr.selected').forEach((r) => { r.classList.remove('selected'); r.setAttribute('aria-expanded', 'false'); });
    if (open) return;
    tr.classList.add('selected');
    tr.setAttribute('aria-expanded', 'true');
    const raw = el('pre', { class: 'raw', id: 'message-raw', tabindex: '0', text: 'Loading…' });
    tr.after(el('tr', { class: 'raw-row' }, el('td', { colspan: 7 },
      el('div', { class: 'raw-head muted' }, `${fmtTime(m.time, true)}  ${m.src} → ${m.dst}  `, el('a', { href: '#/message/' + m.id, text: 'link to this message' })), raw)));
    try {
      const full = await api('messages/' + m.id);
      raw.textContent = full.raw;
    } catch (e) { raw.textContent = e.message; }
  };

  const range = await resolveRange(hp).catch(() => ({ since: '', until: '' }));
  const params = { limit, offset };
  for (const f of fields) if (hp.get(f.name)) params[f.name] = hp.get(f.name);
  Object.assign(params, range);
  let page;
  try {
    page = await api('messages', onlyKnown(MESSAGES, params));
  } catch (e) {
    if (seq === renderSeq) showError(e.message);
    return;
  }
  if (seq !== renderSeq) return;
  summary.textContent = `${fmtInt(page.total === 0 ? 0 : offset + 1)}–${fmtInt(offset + page.messages.length)} of ${fmtInt(page.total)}`;
  rows.replaceChildren(...(page.messages.length ? page.messages.map((m) => {
    const tr = el('tr', { 'data-id': m.id, tabindex: '0', 'aria-expanded': 'false', class: m.request ? 'row-msg-req' : m.status === 401 || m.status === 407 ? 'row-setup' : m.status >= 300 ? 'row-rejected' : 'row-completed' });
    tr.addEventListener('click', () => show(m, tr));
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); show(m, tr); } });
    tr.append(
      el('td', { class: 'nowrap', text: fmtTime(m.time) }),
      el('td', { class: 'nowrap', text: messageTitle(m) }),
      el('td', { title: m.from, text: uriUser(m.from) }),
      el('td', { title: m.to, text: uriUser(m.to) }),
      el('td', { class: 'mono opt', text: `${m.src || '?'} → ${m.dst || '?'}` }),
      el('td', { class: 'opt', text: m.user_agent || '—' }),
      el('td', {}, m.call !== null && m.call !== undefined ? el('a', { href: '#/call/' + m.call, tabindex: '-1', onclick: (ev) => ev.stopPropagation(), text: 'call' }) : '—'));
    return tr;
  }) : [el('tr', {}, el('td', { colspan: 7, class: 'empty', text: 'No messages match.' }))]));
  pagerOf(pager, page, page.messages.length, go, limit, offset);
  markUpdated();
  view.dataset.loaded = location.hash;
}

async function renderMessage(id) {
  const seq = clearView();
  setNav('messages');
  if (!hasRoute('/api/v1/messages/{id}')) return noRoute('Message', '/api/v1/messages/{id}');
  let m;
  try {
    m = await api('messages/' + encodeURIComponent(id));
  } catch (e) {
    if (seq === renderSeq) { view.append(el('p', {}, el('a', { href: '#/messages', text: '‹ Messages' }))); showError(e.message); }
    return;
  }
  if (seq !== renderSeq) return;
  view.append(el('section', { class: 'card' },
    el('div', { class: 'card-head' }, el('a', { href: '#/messages', class: 'back', text: '‹ Messages' }),
      el('h1', { class: 'call-title', text: messageTitle(m) })),
    messageFacts(m),
    el('pre', { class: 'raw', id: 'message-raw', tabindex: '0', text: m.raw || '' })));
  view.dataset.loaded = location.hash;
}

// ---- alerts ----------------------------------------------------------------------------------

const ALERT_COLORS = {
  invite_flood: '#d64545', register_flood: '#c0392b', auth_failure: '#e8953a',
  user_enumeration: '#c0a000', unusual_destination: '#9b59b6', scanner: '#6f42c1',
};

// Every alert as a bar from its first to its last request, on one time axis, oldest first.
function alertTimeline(alerts, width) {
  const times = alerts.flatMap((a) => [epoch(a.first_time), epoch(a.last_time)]).filter((t) => t !== null);
  if (!times.length) return null;
  const sorted = alerts.slice().sort((a, b) => epoch(a.first_time) - epoch(b.first_time));
  const t0 = Math.min(...times), t1 = Math.max(...times);
  const span = Math.max(1, t1 - t0);
  const W = Math.max(200, width), rowH = 16, top = 22, H = top + rowH * sorted.length + 6;
  const X = (t) => 8 + (W - 16) * (t - t0) / span;
  const root = svg('svg', { class: 'timeline', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Timeline of ${alerts.length} alerts from ${fmtTime(t0)} to ${fmtTime(t1)} (${zoneName()})` });
  root.appendChild(svg('text', { x: 8, y: 14, class: 'tl-label' }, fmtTime(t0)));
  root.appendChild(svg('text', { x: W - 8, y: 14, class: 'tl-label', 'text-anchor': 'end' }, fmtTime(t1)));
  sorted.forEach((a, i) => {
    const x1 = X(epoch(a.first_time)), x2 = Math.max(x1 + 3, X(epoch(a.last_time)));
    const r = svg('rect', { x: x1, y: top + i * rowH, width: x2 - x1, height: rowH - 4, rx: 2, fill: ALERT_COLORS[a.type] || '#888', 'data-alert': a.id });
    r.appendChild(svg('title', {}, `${a.type.replace(/_/g, ' ')} from ${a.source || '(many)'}: ${fmtTime(a.first_time)} – ${fmtTime(a.last_time)}, ${a.count} requests`));
    root.appendChild(r);
  });
  return root;
}

// An alert's evidence: its sample messages, each linked to the message page.
async function alertEvidence(box, a) {
  const ids = a.sample_message_ids || [];
  if (!ids.length) {
    box.replaceChildren(el('p', { class: 'muted', text: 'No sample messages stored for this alert.' }));
    return;
  }
  if (!hasRoute('/api/v1/messages/{id}')) {
    box.replaceChildren(el('p', { class: 'muted', text: `Sample message ids: ${ids.join(', ')} (this server cannot show single messages).` }));
    return;
  }
  box.replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
  const ms = await Promise.all(ids.slice(0, 20).map((id) => api('messages/' + id).catch(() => ({ id, missing: true }))));
  box.replaceChildren(el('ul', { class: 'evidence-list' }, ms.map((m) => el('li', {},
    el('a', { href: '#/message/' + m.id, text: m.missing ? `message ${m.id}` : `${fmtTime(m.time, true)}  ${messageTitle(m)}` }),
    m.missing ? el('span', { class: 'muted', text: ' (not found)' }) : el('span', { class: 'muted mono', text: `  ${m.src} → ${m.dst}${m.user_agent ? '  ' + m.user_agent : ''}` })))),
  ...(ids.length > 20 ? [el('p', { class: 'muted', text: `and ${ids.length - 20} more` })] : []));
}

async function renderAlerts() {
  const seq = clearView();
  setNav('alerts');
  const hp = hashParams();
  const limit = Number(hp.get('limit')) || 100;
  const offset = Number(hp.get('offset')) || 0;
  const current = () => Object.fromEntries(hashParams());
  const go = (changes) => setHash('#/alerts', Object.assign(current(), changes));
  const typeSel = el('select', { name: 'type', id: 'a-type' }, el('option', { value: '', text: 'any' }),
    ALERT_TYPES.map((t) => el('option', { value: t, selected: hp.get('type') === t, text: t.replace(/_/g, ' ') })));
  const source = hasParam(ALERTS, 'source') ? el('input', { type: 'search', name: 'source', id: 'a-source', value: hp.get('source') || '' }) : null;
  const form = el('form', { class: 'filters', id: 'alert-filters' }, el('div', { class: 'filter-row' },
    el('label', { class: 'field', for: 'a-type' }, el('span', { text: 'Type' }), typeSel),
    source ? el('label', { class: 'field', for: 'a-source' }, el('span', { text: 'Source IP' }), source) : null,
    el('button', { type: 'submit', class: 'primary', text: 'Filter' }),
    el('button', { type: 'button', text: 'Reset', onclick: () => setHash('#/alerts', {}) })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go({ type: typeSel.value, source: source ? source.value.trim() : '', offset: '' });
  });
  const summary = el('span', { class: 'muted', id: 'alerts-summary' });
  const timeline = el('div', { class: 'timeline-box', id: 'alert-timeline' });
  const rows = el('tbody');
  const pager = el('div', { class: 'pager' });
  view.append(el('section', { class: 'card' },
    el('div', { class: 'card-head' }, el('h1', { text: 'Security alerts' }), summary),
    rangePicker(hp, '#/alerts'), form, timeline,
    tableWrap(el('table', { class: 'calls compact', id: 'alerts-page-table' },
      el('thead', {}, el('tr', {}, ['First seen', 'Last seen', 'Type', 'Source', 'Target', 'User agent', 'Requests', '401 / 403', 'State', 'Evidence']
        .map((h, i) => el('th', { class: [1, 4, 5, 7].includes(i) ? 'opt' : null, text: h })))), rows)), pager));

  const range = await resolveRange(hp).catch(() => ({ since: '', until: '' }));
  const params = { limit, offset, type: hp.get('type') || '', source: hp.get('source') || '' };
  if (range.since) params.since = range.since;
  if (range.until) params.until = range.until;
  let page;
  try {
    page = await api('alerts', onlyKnown(ALERTS, params));
  } catch (e) {
    if (seq === renderSeq) showError(e.message);
    return;
  }
  if (seq !== renderSeq) return;
  let alerts = page.alerts;
  // A server without `until` for alerts: leave out, on this page, those that began after it.
  if (range.until && !hasParam(ALERTS, 'until')) alerts = alerts.filter((a) => epoch(a.first_time) < Number(range.until));
  summary.textContent = `${fmtInt(page.total === 0 ? 0 : offset + 1)}–${fmtInt(offset + page.alerts.length)} of ${fmtInt(page.total)}`;
  timeline.replaceChildren(...[alerts.length ? alertTimeline(alerts, timeline.clientWidth - 2) : null].filter(Boolean));
  const trs = [];
  for (const a of alerts) {
    const detail = el('td', { colspan: 10, class: 'alert-evidence' });
    const detailRow = el('tr', { class: 'evidence-row', hidden: true }, detail);
    const n = (a.sample_message_ids || []).length;
    const btn = el('button', { type: 'button', class: 'small', 'aria-expanded': 'false', text: `messages (${n})` });
    btn.addEventListener('click', () => {
      const open = detailRow.hidden;
      detailRow.hidden = !open;
      btn.setAttribute('aria-expanded', String(open));
      if (open && !detail.childElementCount) alertEvidence(detail, a);
    });
    trs.push(el('tr', { class: 'row-alert', id: 'alert-' + a.id },
      el('td', { class: 'nowrap', text: fmtTime(a.first_time) }),
      el('td', { class: 'nowrap opt', text: fmtTime(a.last_time) }),
      el('td', {}, el('span', { class: 'badge alert-' + a.type, text: a.type.replace(/_/g, ' ') })),
      el('td', { class: 'mono', text: a.source || '(many)' }),
      el('td', { class: 'opt', text: a.target || '—' }),
      el('td', { class: 'opt', text: a.user_agent || '—' }),
      el('td', { class: 'num', text: fmtInt(a.count) }),
      el('td', { class: 'num opt', text: `${fmtInt(a.r401)} / ${fmtInt(a.r403)}` }),
      el('td', { text: a.open ? 'ongoing' : 'ended' }),
      el('td', {}, btn)), detailRow);
  }
  rows.replaceChildren(...(trs.length ? trs : [el('tr', {}, el('td', { colspan: 10, class: 'empty', text: 'No alerts match: no floods, password guessing or scanners seen.' }))]));
  pagerOf(pager, page, page.alerts.length, go, limit, offset);
  markUpdated();
  view.dataset.loaded = location.hash;
}

// ---- registrations ---------------------------------------------------------------------------

async function renderRegistrations() {
  const seq = clearView();
  setNav('registrations');
  const hp = hashParams();
  const user = el('input', { type: 'search', id: 'reg-user', value: hp.get('user') || '' });
  const active = el('select', { id: 'reg-active' },
    [['', 'all'], ['true', 'active'], ['false', 'inactive']].map(([v, t]) =>
      el('option', { value: v, text: t, selected: (hp.get('active') || '') === v ? '' : null })));
  const form = el('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    setHash('#/registrations', { user: user.value.trim(), active: active.value });
  } }, el('div', { class: 'filter-row' },
    el('label', { class: 'field', for: 'reg-user' }, el('span', { text: 'User' }), user),
    el('label', { class: 'field', for: 'reg-active' }, el('span', { text: 'State' }), active),
    el('button', { type: 'submit', class: 'primary', text: 'Filter' })));
  const rows = el('tbody');
  const total = el('span', { class: 'muted' });
  view.append(el('section', { class: 'card' },
    el('div', { class: 'card-head' }, el('h1', { text: 'Registrations' }), total), form,
    tableWrap(el('table', { class: 'calls', id: 'registrations-table' },
      el('thead', {}, el('tr', {}, ['Address of record', 'Contact', 'Source', 'User agent', 'Outcome', 'Expires', 'Attempts', 'Failures', 'Last seen']
        .map((h) => el('th', { text: h })))), rows))));
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

// ui_test: drive headless Chromium over the DevTools protocol against a running sipscope (a
// database made by `sipscope run -r samples/small.pcap`): the call list loads, filters (the filter
// goes into the URL) and sorts; a one-way call is never green; a click opens a call whose ladder
// (SVG buttons, not an image), charts (legends with values, axes from 0) and findings are drawn;
// the dashboard's ranges count back from the newest stored call and its worst-call rows are
// reachable with Tab; messages and alerts pages; the UTC/local switch; dark mode; calls in
// progress tick and refresh in place (the API answer is rewritten by the test to mark a call
// active); and at 1400 and 390 px no page scrolls sideways. No console error, exception or failed
// request anywhere. Checks of a feature the server does not offer yet (read from its OpenAPI
// description) are reported as skipped. Saves screenshots.
// Usage: node ui_test.mjs CHROMIUM BASE_URL SCREENSHOT_DIR WORK_DIR
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [chromiumPath, baseUrl, outDir, workDir] = process.argv.slice(2);
const WIDTH = 1400;
const HEIGHT = 1000;
const problems = [];   // console errors, exceptions, failed loads
let browser = null;    // the Chromium process, killed on every way out
let failures = 0;
let width = WIDTH;      // the viewport's width now (1400, then 390)

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

// ---- Chromium and a CDP session -------------------------------------------------------

function launch() {
  const profile = mkdtempSync(join(workDir, 'chromium-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${profile}`, '--remote-debugging-port=0', `--window-size=${WIDTH},${HEIGHT}`,
    'about:blank'];
  const proc = spawn(chromiumPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  browser = proc;
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error('chromium did not start:\n' + err)), 30000);
    proc.stderr.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, ws: m[1] });
      }
    });
    proc.on('exit', (code) => reject(new Error(`chromium exited ${code}:\n${err}`)));
  });
}

class Cdp {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.next = 1;
    this.pending = new Map();
    this.listeners = [];
    this.ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.id && this.pending.has(msg.id)) {
        const { resolve, reject } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) reject(new Error(msg.error.message));
        else resolve(msg.result);
      } else if (msg.method) {
        for (const l of this.listeners) l(msg);
      }
    };
  }
  open() {
    return new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(new Error('cannot connect to chromium'));
    });
  }
  send(method, params = {}, sessionId) {
    const id = this.next++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    this.ws.send(JSON.stringify(msg));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }
  on(fn) { this.listeners.push(fn); }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const { proc, ws } = await launch();
  const cdp = new Cdp(ws);
  await cdp.open();
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const page = (method, params) => cdp.send(method, params, sessionId);

  cdp.on((msg) => {
    if (msg.sessionId !== sessionId) return;
    const p = msg.params;
    if (msg.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
      problems.push('console.' + p.type + ': ' + p.args.map((a) => a.value ?? a.description).join(' '));
    } else if (msg.method === 'Runtime.exceptionThrown') {
      const d = p.exceptionDetails;
      problems.push('exception: ' + (d.exception?.description || d.text));
    } else if (msg.method === 'Log.entryAdded' && p.entry.level === 'error') {
      problems.push(`log (${p.entry.source}): ${p.entry.text} ${p.entry.url || ''}`);
    } else if (msg.method === 'Network.responseReceived' && p.response.status >= 400) {
      problems.push(`HTTP ${p.response.status}: ${p.response.url}`);
    } else if (msg.method === 'Network.loadingFailed' && !p.canceled) {
      problems.push(`load failed: ${p.errorText}`);
    }
  });
  await page('Page.enable');
  await page('Runtime.enable');
  await page('Log.enable');
  await page('Network.enable');
  await page('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: HEIGHT, deviceScaleFactor: 1, mobile: false });

  const evaluate = async (expr) => {
    const r = await page('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error('evaluate: ' + (r.exceptionDetails.exception?.description || r.exceptionDetails.text));
    return r.result.value;
  };
  const waitFor = async (expr, what, ms = 15000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      try { if (await evaluate(expr)) return true; } catch (e) { /* page still loading */ }
      await sleep(100);
    }
    check(false, 'timed out waiting for ' + what);
    return false;
  };
  const click = async (selector) => {
    const box = await evaluate(`(() => { const e = document.querySelector(${JSON.stringify(selector)});
      if (!e) return null; e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();
      return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()`);
    if (!box) throw new Error('nothing to click at ' + selector);
    for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
      await page('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 });
    }
  };
  // The UI marks #view with the hash whose data it has finished drawing.
  const LOADED = `document.getElementById('view').dataset.loaded === location.hash`;
  const screenshot = async (name) => {
    await evaluate('window.scrollTo(0, 0)');
    const m = await page('Page.getLayoutMetrics');
    const h = Math.ceil(Math.max(HEIGHT, m.cssContentSize.height));
    await page('Emulation.setDeviceMetricsOverride', { width, height: h, deviceScaleFactor: 1, mobile: false });
    await sleep(300);
    const shot = await page('Page.captureScreenshot', { format: 'png', captureBeyondViewport: false });
    await page('Emulation.setDeviceMetricsOverride', { width, height: HEIGHT, deviceScaleFactor: 1, mobile: false });
    const file = join(outDir, name);
    writeFileSync(file, Buffer.from(shot.data, 'base64'));
    console.log('     screenshot ' + file);
  };

  const skip = (what) => console.log(`skip ${what}`);
  const press = async (key) => {
    const codes = { Tab: 9, Enter: 13 };
    const base = { key, code: key, windowsVirtualKeyCode: codes[key], nativeVirtualKeyCode: codes[key] };
    await page('Input.dispatchKeyEvent', Object.assign({ type: 'keyDown', text: key === 'Enter' ? '\r' : undefined }, base));
    await page('Input.dispatchKeyEvent', Object.assign({ type: 'keyUp' }, base));
  };
  const go = async (hash) => {
    await page('Page.navigate', { url: baseUrl + hash });
    return waitFor(LOADED, 'the page ' + hash);
  };
  const rowsOf = (table) => evaluate(`document.querySelectorAll('${table} tbody tr[data-id]').length`);
  // A one-way call's MOS is never green (nor yellow-green): every row flagged one-way.
  const oneWayNotGreen = (scope) => evaluate(`[...document.querySelectorAll('${scope} tbody tr')]
    .filter(tr => /one-way/.test(tr.textContent))
    .map(tr => tr.querySelector('.mos')).filter(Boolean)
    .map(m => m.className)`);

  // 1. The call list.
  await page('Page.navigate', { url: baseUrl + '#/calls' });
  if (await waitFor(`${LOADED} && document.querySelectorAll('#calls-table tbody tr[data-id]').length === 10`, 'the 10 calls of the list')) {
    check(true, 'call list shows the 10 calls of samples/small.pcap');
  }
  const cap = (p) => evaluate(`hasRoute(${JSON.stringify(p)})`);
  const param = (r, n) => evaluate(`hasParam(${JSON.stringify(r)}, ${JSON.stringify(n)})`);
  check(await evaluate(`document.getElementById('list-summary').textContent`) === '1–10 of 10', 'list summary says 1–10 of 10');
  check(await evaluate(`document.querySelectorAll('#calls-table .badge.state-rejected').length`) === 1, 'a rejected call is colour-coded');
  check(await evaluate(`document.querySelectorAll('#calls-table .mos.mos-good').length`) > 0, 'MOS cells are colour-coded');
  const ips = await evaluate(`[...document.querySelectorAll('#calls-table tbody tr[data-id] td:nth-child(4)')].map(e => e.textContent)`);
  check(ips.length === 10 && ips.every((t) => /\d.*→.*\d/.test(t)), 'an IP column shows caller → callee: ' + ips[0]);
  const oneWayList = await oneWayNotGreen('#calls-table');
  check(oneWayList.length >= 1 && oneWayList.every((c) => !/mos-good|mos-fair/.test(c)), `a one-way call is not green in the list (${oneWayList.join(', ')})`);
  await screenshot('calls.png');
  // With verdicts: the MOS colour follows the verdict, and the Verdict column sorts worst first.
  const verdicts = await evaluate(`fetch('api/v1/calls?limit=100').then(r => r.json()).then(j => j.calls.some(c => 'verdict' in c))`);
  if (verdicts) {
    const pairs = await evaluate(`[...document.querySelectorAll('#calls-table tbody tr[data-id]')].map(tr => [tr.querySelector('.badge.verdict')?.textContent, tr.querySelector('.mos').className.replace('mos ', ''), tr.querySelector('.mos').textContent])`);
    const want = { good: 'mos-good', degraded: 'mos-fair', poor: 'mos-poor', 'one-way': 'mos-bad', 'no-media': 'mos-bad', failed: 'mos-bad' };
    const wrong = pairs.filter(([v, cls, txt]) => txt !== '—' && want[v] !== cls);
    check(pairs.length === 10 && wrong.length === 0, `MOS colours follow the verdict (${wrong.length ? 'wrong: ' + JSON.stringify(wrong) : pairs.map((p) => p[0]).join(' ')})`);
    if (await evaluate(`caps.callSorts.has('worst')`)) {
      await click('#calls-table th.sortable:nth-child(6) a');
      await waitFor(`location.hash.includes('sort=worst') && ${LOADED}`, 'sorting by verdict');
      const order = await evaluate(`[...document.querySelectorAll('#calls-table tbody tr[data-id] .badge.verdict')].map(e => e.textContent)`);
      check(order.length === 10 && order[0] === 'one-way' && order[order.length - 1] !== 'one-way', 'the Verdict column sorts the worst first: ' + order.join(' '));
      await go('#/calls');
    }
  } else {
    skip('verdict colours and sorting: the server gives no verdict yet');
  }

  // 2. Filters through the form: they go into the URL, and the list follows them.
  const hasOneWay = await param('/api/v1/calls', 'one_way');
  await evaluate(`(() => { document.getElementById('f-state').value = 'completed'; })()`);
  if (hasOneWay) {
    await evaluate(`(() => { document.querySelector('details.more-filters').open = true; document.getElementById('f-one_way').value = 'true'; })()`);
  }
  await click('#filters button[type=submit]');
  if (hasOneWay) {
    const want = await evaluate(`fetch('api/v1/calls?state=completed&one_way=true').then(r => r.json()).then(j => j.total)`);
    if (await waitFor(`location.hash.includes('state=completed') && location.hash.includes('one_way=true') && ${LOADED} && document.querySelectorAll('#calls-table tbody tr[data-id]').length === ${want}`, 'the filtered list')) {
      const flagged = await evaluate(`[...document.querySelectorAll('#calls-table tbody tr[data-id]')].every(tr => /one-way/.test(tr.textContent))`);
      check(want >= 1 && flagged, `filters state=completed and one_way=true are in the URL and the list shows the ${want} one-way calls`);
    }
    await page('Page.navigate', { url: baseUrl + '#/calls?state=completed' });
  } else {
    skip('one_way filter: the server has no one_way parameter yet');
  }
  if (await waitFor(`location.hash.includes('state=completed') && ${LOADED} && document.querySelectorAll('#calls-table tbody tr[data-id]').length === 8`, 'the filtered list')) {
    check(true, 'filtering by state=completed (in the URL) leaves 8 calls');
  }
  // The shared URL rebuilds the same view: reload it.
  await page('Page.reload');
  await waitFor(`${LOADED} && document.getElementById('f-state').value === 'completed' && document.querySelectorAll('#calls-table tbody tr[data-id]').length === 8`, 'the same view after a reload');
  check(await evaluate(`document.getElementById('f-state').value`) === 'completed', 'a reload keeps the filter (it lives in the URL)');
  if (await cap('/api/v1/calls.csv')) {
    const href = await evaluate(`document.getElementById('export-csv').getAttribute('href')`);
    const csv = await evaluate(`fetch(${JSON.stringify('')} + document.getElementById('export-csv').getAttribute('href')).then(async r => [r.status, r.headers.get('content-type'), (await r.text()).trim().split('\\n').length])`);
    check(href.includes('state=completed') && csv[0] === 200 && /text\/csv/.test(csv[1]) && csv[2] === 9, `CSV export has the list's filters and rows (${href}: ${csv.join(', ')})`);
  } else {
    skip('CSV export: the server has no /api/v1/calls.csv yet');
  }
  if (await cap('/api/v1/calls/pcap')) {
    check((await evaluate(`document.getElementById('export-pcap').getAttribute('href')`)).includes('state=completed'), 'merged pcap export has the list\'s filters');
  } else {
    skip('merged pcap export: the server has no /api/v1/calls/pcap yet');
  }
  // Sort by MOS, worst first (two clicks on the header: descending, then ascending).
  await click('#calls-table th.sortable:nth-child(10) a');
  await waitFor(`location.hash.includes('sort=mos') && ${LOADED} && document.querySelector('#calls-table th.sorted a').textContent.startsWith('MOS')`, 'sorting by MOS');
  await click('#calls-table th.sorted a');
  await waitFor(`location.hash.includes('order=asc') && ${LOADED} && document.querySelectorAll('#calls-table tbody tr[data-id]').length === 8`, 'ascending MOS');
  const mosOrder = await evaluate(`[...document.querySelectorAll('#calls-table tbody tr[data-id] .mos')].map(e => parseFloat(e.textContent))`);
  check(mosOrder.every((v, i) => i === 0 || v >= mosOrder[i - 1]), 'sorting by MOS ascending orders the rows: ' + mosOrder.join(' '));

  // 3. Open the worst call with a click.
  await click('#calls-table tbody tr[data-id]');
  if (await waitFor(`/^#\\/call\\/\\d+$/.test(location.hash) && ${LOADED} && document.querySelector('svg.ladder g.msg') !== null`, 'the call detail with its ladder')) {
    check(true, 'clicking a row opens the call');
  }
  const arrows = await evaluate(`document.querySelectorAll('svg.ladder g.msg').length`);
  const hosts = await evaluate(`document.querySelectorAll('svg.ladder .host-label').length`);
  check(arrows >= 5 && hosts >= 2, `the SIP ladder is drawn (${hosts} hosts, ${arrows} arrows)`);
  const a11y = await evaluate(`(() => { const s = document.querySelector('svg.ladder'); const g = [...s.querySelectorAll('g.msg')];
    return [s.getAttribute('role'), g.every(e => e.getAttribute('role') === 'button' && e.getAttribute('tabindex') === '0' && e.getAttribute('aria-label'))]; })()`);
  check(a11y[0] !== 'img' && a11y[1], `the ladder is a group of focusable buttons, not an image holding them (role ${a11y[0]})`);
  // tests/ui/run marked each call's first message as decrypted from TLS: one lock, with a tooltip.
  const vias = await evaluate(`[...document.querySelectorAll('svg.ladder g.msg .via-mark')].map(e => [e.closest('g.msg').dataset.index, e.querySelector('title')?.textContent || ''])`);
  check(vias.length === 1 && vias[0][0] === '0' && vias[0][1].includes('TLS'), `the message that came by TLS is marked, with a title (${JSON.stringify(vias)})`);
  if (await waitFor(`document.querySelectorAll('#charts canvas').length >= 3`, 'the quality charts')) {
    check(true, 'jitter, loss and MOS charts are drawn (uPlot canvases)');
  }
  const legends = await evaluate(`[...document.querySelectorAll('#charts .u-legend .u-value')].map(e => e.textContent.trim())`);
  check(legends.length >= 6 && legends.every((v) => v && v !== '—' && v !== '-' && v !== '--'), 'chart legends show values without hovering: ' + legends.slice(0, 4).join(' | '));
  const yMins = await evaluate(`charts.slice(0, 2).map(c => c.scales.y.min)`);
  check(yMins.length === 2 && yMins.every((v) => v === 0), 'jitter and loss axes start at 0: ' + yMins.join(', '));
  const titles = await evaluate(`[...document.querySelectorAll('#charts .u-title')].map(e => e.textContent)`);
  check(titles.some((t) => t.includes('(ms)')) && titles.some((t) => t.includes('(%)')), 'charts name their units: ' + titles.join(' | '));
  check(await evaluate(`document.querySelectorAll('#streams-table tbody tr').length`) >= 1, 'the streams table has rows');
  check(await evaluate(`document.querySelectorAll('#findings li').length`) >= 1, 'findings are listed');
  check((await evaluate(`document.getElementById('download-pcap').getAttribute('href')`)).endsWith('/pcap'), 'download-pcap button links the pcap route');
  const svgText = await evaluate(`ladderSvgText(document.querySelector('svg.ladder'))`);
  check(svgText.startsWith('<?xml') && svgText.includes('<style') && svgText.includes('INVITE'), `the ladder exports as a standalone SVG (${svgText.length} bytes)`);
  if (await cap('/api/v1/calls/{id}/ladder.txt')) {
    const txt = await evaluate(`fetch(document.getElementById('export-ladder-txt').getAttribute('href')).then(async r => [r.status, await r.text()])`);
    check(txt[0] === 200 && txt[1].includes('INVITE'), 'the ladder exports as text (ladder.txt)');
  } else {
    skip('ladder.txt: the server has no /api/v1/calls/{id}/ladder.txt yet');
  }
  await click('svg.ladder g.msg .msg-label');
  if (await waitFor(`/^(INVITE|ACK|BYE|CANCEL|SIP\\/2\\.0) /.test(document.getElementById('raw-message').textContent)`, 'the raw message')) {
    check(true, 'clicking an arrow shows the raw SIP message');
  }
  // Keyboard: Tab onto an arrow, Enter shows its message.
  await evaluate(`(() => { document.getElementById('raw-message').textContent = ''; document.querySelectorAll('svg.ladder g.msg')[1].focus(); })()`);
  await press('Enter');
  if (await waitFor(`/^SIP\\/2\\.0 |^[A-Z]+ /.test(document.getElementById('raw-message').textContent)`, 'the raw message by keyboard')) {
    check(true, 'Enter on a focused arrow shows its message');
  }
  await screenshot('call.png');

  // 3b. Pieces checked on their own: negative loss, DTMF on the ladder.
  check(await evaluate(`fmtLoss({packets: 100, lost: -1})`) === '0 (0.0 %)', 'a negative loss (duplicates) shows as 0, not "-1 (0.0 %)"');
  const dtmf = await evaluate(`(() => { const s = ladder({caller: '192.0.2.1:5060', callee: '192.0.2.2:5060', streams: [{id: 7, src: '192.0.2.1:4000', dst: '192.0.2.2:4002'}],
    messages: [{id: 1, time: 1, src: '192.0.2.1:5060', dst: '192.0.2.2:5060', transport: 'udp', request: true, method: 'INVITE', cseq: 1, summary: 'INVITE sip:x SIP/2.0', sdp: true}],
    dtmf: [{digit: '5', time: 2.5, duration_ms: 160, stream: 7, volume: 10}, {digit: '#', time: 3, duration_ms: 100, stream: 7, volume: 10}]}, () => {});
    return [...s.querySelectorAll('g.dtmf')].map(g => g.dataset.digit + ':' + g.querySelector('.msg-label').textContent); })()`);
  check(dtmf.length === 2 && dtmf[0].startsWith('5:DTMF 5'), 'DTMF events are drawn on the ladder: ' + dtmf.join(', '));

  // 4. A call with one-way audio says so in words, and is not green.
  const oneWay = await evaluate(`fetch('api/v1/calls?limit=100').then(r => r.json()).then(j => (j.calls.find(c => c.one_way) || {}).id)`);
  check(!!oneWay, 'the sample has a one-way call');
  if (oneWay) {
    await go(`#/call/${oneWay}`);
    const detail = await evaluate(`fetch('api/v1/calls/${oneWay}').then(r => r.json())`);
    if (Array.isArray(detail.reasons) && detail.verdict) {
      const items = await evaluate(`[...document.querySelectorAll('#findings li')].map(li => [li.textContent, li.querySelectorAll('a.evidence').length])`);
      const withEvidence = detail.reasons.filter((r) => r.stream !== null || r.message !== null).length;
      check(items.length === Math.max(1, detail.reasons.length) && items.filter((i) => i[1] > 0).length === withEvidence,
        `the verdict's reasons are listed with evidence links (${detail.verdict}: ${items.map((i) => i[0]).join(' / ')})`);
    } else if (await waitFor(`[...document.querySelectorAll('#findings li')].some(li => li.textContent.startsWith('One-way audio'))`, 'the one-way finding')) {
      check(true, 'a one-way call is explained in words');
      skip('verdict reasons: the server gives no verdict yet');
    }
    const mos = await evaluate(`document.querySelector('.facts .mos').className`);
    const green = await evaluate(`document.querySelectorAll('#view .mos.mos-good, #view .mos.mos-fair').length`);
    check(!/mos-good|mos-fair/.test(mos) && green === 0, `a one-way call's MOS is not green anywhere on its page (${mos}, MOS ${detail.mos}; ${green} green)`);
    await waitFor(`document.querySelectorAll('#charts canvas').length >= 3`, 'the one-way call\'s charts');
    await screenshot('call-one-way.png');
  }

  // 5. The dashboard.
  await page('Page.navigate', { url: baseUrl + '#/dashboard' });
  if (await waitFor(`${LOADED} && document.querySelectorAll('#chart-calls canvas').length > 0 && document.querySelectorAll('#chart-mos canvas').length > 0 && document.querySelectorAll('#worst-table tbody tr').length > 0`, 'the dashboard')) {
    check(true, 'dashboard draws calls per step, MOS distribution and worst calls');
  }
  const tiles = await evaluate(`[...document.querySelectorAll('.tile')].map(e => e.querySelector('.tile-label').textContent + '=' + e.querySelector('.tile-value').textContent)`);
  check(tiles.includes('Calls=10') && tiles.includes('ASR=80.0 %'), 'dashboard tiles: ' + tiles.join(', '));
  const stats = await evaluate(`fetch('api/v1/stats').then(r => r.json())`);
  for (const [field, id] of [['active_calls', 'tile-active'], ['one_way_calls', 'tile-one-way'], ['nat_calls', 'tile-nat']]) {
    if (field in stats) {
      const v = await evaluate(`document.querySelector('#${id} .tile-value')?.textContent`);
      check(v === String(stats[field]), `the ${id} tile shows ${stats[field]} (${v})`);
    } else {
      skip(`${id} tile: /api/v1/stats has no ${field} yet`);
    }
  }
  const worstGreen = await oneWayNotGreen('#worst-table');
  check(worstGreen.every((c) => !/mos-good|mos-fair/.test(c)), `worst calls: a one-way call is not green (${worstGreen.length} one-way)`);
  // The sample's REGISTER flood sources and scanners are in the alerts panel.
  if (await waitFor(`document.querySelectorAll('#alerts-table tbody tr.row-alert').length >= 4`, 'the alerts panel')) {
    const types = await evaluate(`[...document.querySelectorAll('#alerts-table tbody tr.row-alert td:nth-child(2)')].map(e => e.textContent)`);
    check(types.includes('scanner'), 'dashboard lists the security alerts: ' + types.join(', '));
  }
  await screenshot('dashboard.png');
  // Keyboard: Tab from the top of the page reaches a worst-call row; Enter opens it.
  await evaluate(`document.activeElement && document.activeElement.blur()`);
  let reached = false;
  for (let i = 0; i < 200 && !reached; i++) {
    await press('Tab');
    reached = await evaluate(`!!(document.activeElement && document.activeElement.closest('#worst-table tbody tr[data-id]'))`);
  }
  check(reached, 'Tab reaches the dashboard\'s worst-call rows');
  if (reached) {
    await press('Enter');
    if (await waitFor(`/^#\\/call\\/\\d+$/.test(location.hash) && ${LOADED}`, 'the call opened with Enter')) check(true, 'Enter on a worst-call row opens the call');
  }

  // 5a. Ranges count back from the newest stored call (the sample is from 2024), not from now.
  await go('#/dashboard?range=1h');
  const lastHour = await evaluate(`document.querySelector('.tile .tile-value').textContent`);
  check(lastHour === '10', `the "1 h" preset counts back from the newest stored call: ${lastHour} calls`);
  await go('#/calls?range=15m');
  check(await rowsOf('#calls-table') === 10, 'the "15 min" preset on the list shows the capture\'s 10 calls');
  // Absolute from/to, typed in the page's one format: [10:00:10, 10:00:13) holds 3 calls.
  await evaluate(`(() => { const f = document.querySelector('form.range'); f.since.value = '2024-01-15 10:00:10'; f.until.value = '2024-01-15 10:00:13'; })()`);
  await click('form.range button[type=submit]');
  if (await waitFor(`location.hash.includes('since=1705312810') && location.hash.includes('until=1705312813') && ${LOADED}`, 'the absolute range')) {
    check(await rowsOf('#calls-table') === 3, 'an absolute from/to range (in the URL) leaves the 3 calls inside it');
  }
  // Drag across the dashboard's calls chart: that range goes into the URL.
  await go('#/dashboard');
  await waitFor(`document.querySelector('#chart-calls .u-over')`, 'the calls chart');
  // The mouse events take viewport coordinates: bring the chart into view first (the tiles and
  // the worst calls above it can push it below the fold).
  const over = await evaluate(`(() => { const el = document.querySelector('#chart-calls .u-over'); el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect(); return {x: r.left, y: r.top + r.height / 2, w: r.width}; })()`);
  await page('Input.dispatchMouseEvent', { type: 'mouseMoved', x: over.x + over.w * 0.3, y: over.y });
  await page('Input.dispatchMouseEvent', { type: 'mousePressed', x: over.x + over.w * 0.3, y: over.y, button: 'left', clickCount: 1 });
  for (const f of [0.4, 0.5, 0.6]) await page('Input.dispatchMouseEvent', { type: 'mouseMoved', x: over.x + over.w * f, y: over.y, button: 'left', buttons: 1 });
  await page('Input.dispatchMouseEvent', { type: 'mouseReleased', x: over.x + over.w * 0.6, y: over.y, button: 'left', clickCount: 1 });
  if (await waitFor(`/since=\\d+/.test(location.hash) && /until=\\d+/.test(location.hash) && ${LOADED}`, 'the zoomed dashboard')) {
    const z = await evaluate(`Object.fromEntries(hashParams())`);
    check(Number(z.until) > Number(z.since), `dragging across a chart zooms into that range (${z.since}–${z.until})`);
  }
  // UTC/local switch: in Asia/Kolkata (UTC+05:30) local times move by 5 h 30.
  await page('Emulation.setTimezoneOverride', { timezoneId: 'Asia/Kolkata' });
  await go('#/calls');
  const utcTime = await evaluate(`document.querySelector('#calls-table tbody tr[data-id] td').textContent`);
  await click('#tz');
  await waitFor(`${LOADED} && document.getElementById('tz').textContent === 'Local'`, 'local time');
  const localTime = await evaluate(`document.querySelector('#calls-table tbody tr[data-id] td').textContent`);
  const zone = await evaluate(`document.querySelector('.zone-note').textContent`);
  check(utcTime === '2024-01-15 10:00:14' && localTime === '2024-01-15 15:30:14' && zone.includes('UTC+05:30'),
    `the UTC/local switch changes every time and names the zone (${utcTime} UTC, ${localTime} ${zone})`);
  await click('#tz');
  await waitFor(`${LOADED} && document.getElementById('tz').textContent === 'UTC'`, 'UTC again');
  await page('Emulation.setTimezoneOverride', { timezoneId: 'UTC' });

  // 5b. Messages that are not calls.
  if (await cap('/api/v1/messages')) {
    await go('#/messages?method=REGISTER');
    const kinds = await evaluate(`[...document.querySelectorAll('#messages-table tbody tr[data-id] td:nth-child(2)')].map(e => e.textContent)`);
    check(kinds.length > 0 && kinds.every((k) => k.includes('REGISTER')), `the messages page lists REGISTER messages (${kinds.length}: ${kinds.slice(0, 2).join(', ')})`);
    await click('#messages-table tbody tr[data-id]');
    if (await waitFor(`/REGISTER/.test(document.getElementById('message-raw').textContent)`, 'a raw REGISTER')) check(true, 'a click on a message shows it raw');
    await screenshot('messages.png');
  } else {
    skip('messages page: the server has no /api/v1/messages yet');
  }

  // 5c. Alerts: filters, timeline, evidence.
  await go('#/alerts');
  const alertCount = await evaluate(`document.querySelectorAll('#alerts-page-table tr.row-alert').length`);
  const bars = await evaluate(`document.querySelectorAll('#alert-timeline svg rect').length`);
  check(alertCount >= 4 && bars === alertCount, `the alerts page lists ${alertCount} alerts with a timeline of ${bars} bars`);
  await evaluate(`document.getElementById('a-type').value = 'scanner'`);
  await click('#alert-filters button[type=submit]');
  await waitFor(`location.hash.includes('type=scanner') && ${LOADED}`, 'the scanner alerts');
  const types = await evaluate(`[...document.querySelectorAll('#alerts-page-table tr.row-alert td:nth-child(3)')].map(e => e.textContent)`);
  check(types.length >= 1 && types.every((t) => t === 'scanner'), 'the type filter is in the URL and the list: ' + types.join(', '));
  await click('#alerts-page-table tr.row-alert button');
  const firstAlert = await evaluate(`fetch('api/v1/alerts?type=scanner&limit=1').then(r => r.json()).then(j => j.alerts[0])`);
  if (firstAlert.sample_message_ids.length && await cap('/api/v1/messages/{id}')) {
    if (await waitFor(`document.querySelectorAll('.alert-evidence a[href^="#/message/"]').length === ${Math.min(20, firstAlert.sample_message_ids.length)}`, 'the alert\'s evidence messages')) {
      check(true, `an alert lists its ${firstAlert.sample_message_ids.length} evidence messages, linked`);
    }
  } else {
    await waitFor(`document.querySelector('.alert-evidence p')`, 'the alert evidence note');
    skip('alert evidence links: the server gives no sample_message_ids (or no messages route) yet');
  }
  await screenshot('alerts.png');

  // 5d. The registrations page: every AOR the flood tried, with its outcome.
  await page('Page.navigate', { url: baseUrl + '#/registrations' });
  if (await waitFor(`${LOADED} && document.querySelectorAll('#registrations-table tbody tr').length > 0`, 'the registrations page')) {
    const outcomes = await evaluate(`[...document.querySelectorAll('#registrations-table tbody td:nth-child(5)')].map(e => e.textContent)`);
    check(outcomes.length > 0 && outcomes.every((o) => o.length > 0), 'registrations page lists bindings: ' + outcomes.slice(0, 3).join(', '));
  }
  await screenshot('registrations.png');

  // 5e. Calls in progress: the test rewrites the list's answer so that the newest call is
  // active; its duration ticks, the list refreshes on its own, and when the call is finished the
  // same row element shows it (no new row, no flicker).
  let live = true, seen = 0;
  const newest = await evaluate(`fetch('api/v1/calls?limit=1').then(r => r.json()).then(j => j.calls[0].id)`);
  cdp.on(async (msg) => {
    if (msg.sessionId !== sessionId || msg.method !== 'Fetch.requestPaused') return;
    const { requestId } = msg.params;
    seen++;
    if (!live) return page('Fetch.continueRequest', { requestId }).catch(() => {});
    const body = await page('Fetch.getResponseBody', { requestId });
    const j = JSON.parse(body.base64Encoded ? Buffer.from(body.body, 'base64').toString() : body.body);
    for (const c of j.calls) if (c.id === newest) Object.assign(c, { active: true, state: 'in_call', end_time: null, duration_s: 5 });
    await page('Fetch.fulfillRequest', { requestId, responseCode: 200, responseHeaders: [{ name: 'Content-Type', value: 'application/json' }],
      body: Buffer.from(JSON.stringify(j)).toString('base64') }).catch(() => {});
  });
  await page('Fetch.enable', { patterns: [{ urlPattern: '*/api/v1/calls?*', requestStage: 'Response' }] });
  await go('#/calls');
  const liveRow = `document.querySelector('#calls-table tbody tr[data-id="${newest}"]')`;
  if (await waitFor(`${liveRow} && ${liveRow}.textContent.includes('live')`, 'the call in progress')) {
    await evaluate(`${liveRow}.dataset.mark = 'same-row'`);
    const d1 = await evaluate(`${liveRow}.querySelector('[data-running]').textContent`);
    await waitFor(`${liveRow}.querySelector('[data-running]') && ${liveRow}.querySelector('[data-running]').textContent !== ${JSON.stringify(d1)}`, 'the running duration to tick');
    const d2 = await evaluate(`${liveRow}.querySelector('[data-running]')?.textContent`);
    check(parseFloat(d2) > parseFloat(d1), `a call in progress has a running duration (${d1} -> ${d2})`);
    const before = seen;
    await waitFor(`true`, '');
    await sleep(100);
    const refreshed = await (async () => { const end = Date.now() + 10000; while (Date.now() < end) { if (seen >= before + 2) return true; await sleep(100); } return false; })();
    check(refreshed, 'with a call in progress the list refreshes by itself (every 2 s)');
    live = false;
    if (await waitFor(`${liveRow} && !${liveRow}.textContent.includes('live')`, 'the call finished')) {
      check(await evaluate(`${liveRow}.dataset.mark`) === 'same-row', 'the finished call is shown in the same row (no new row, no flicker)');
    }
  }
  await page('Fetch.disable');

  // 5f. Dark mode follows prefers-color-scheme.
  await page('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: 'dark' }] });
  await go('#/dashboard');
  const bg = await evaluate(`getComputedStyle(document.body).backgroundColor`);
  check(bg === 'rgb(15, 20, 28)', 'dark mode by prefers-color-scheme: page background ' + bg);
  await screenshot('dashboard-dark.png');
  await page('Emulation.setEmulatedMedia', { features: [] });

  // 5g. No page scrolls sideways at 1400 or 390 px; the header shows every page's link.
  const pages = ['#/calls', `#/call/${oneWay || 1}`, '#/dashboard', '#/alerts', '#/registrations'];
  if (await cap('/api/v1/messages')) pages.push('#/messages');
  for (const w of [1400, 390]) {
    width = w;
    await page('Emulation.setDeviceMetricsOverride', { width: w, height: HEIGHT, deviceScaleFactor: 1, mobile: false });
    for (const p of pages) {
      await go(p);
      await sleep(150);
      const o = await evaluate(`(() => { const d = document.documentElement; const links = [...document.querySelectorAll('.top nav a:not([hidden])')];
        return [Math.max(d.scrollWidth, document.body.scrollWidth), d.clientWidth,
          links.filter(a => { const r = a.getBoundingClientRect(); return r.width === 0 || r.right > d.clientWidth; }).map(a => a.textContent)]; })()`);
      check(o[0] <= o[1] && o[2].length === 0, `${w} px ${p}: no horizontal overflow (${o[0]} <= ${o[1]})${o[2].length ? ', header cuts ' + o[2].join(', ') : ''}`);
    }
    if (w === 390) {
      await go('#/calls');
      await screenshot('calls-390.png');
      await go(`#/call/${oneWay || 1}`);
      await screenshot('call-390.png');
      await go('#/dashboard');
      await screenshot('dashboard-390.png');
    }
  }
  width = WIDTH;
  await page('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: HEIGHT, deviceScaleFactor: 1, mobile: false });

  // 6. No console errors, exceptions or failed requests on the way.
  await sleep(300);
  check(problems.length === 0, 'no console errors, exceptions or failed requests' + (problems.length ? ':\n  ' + problems.join('\n  ') : ''));

  const exited = new Promise((resolve) => proc.on('exit', resolve));
  await cdp.send('Browser.close').catch(() => {});
  await Promise.race([exited, sleep(5000)]);
}

// Stop Chromium (and wait for it, so that its profile can be removed), then exit.
async function finish(code) {
  if (browser && browser.exitCode === null && browser.signalCode === null) {
    const exited = new Promise((resolve) => browser.on('exit', resolve));
    browser.kill('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
    if (browser.exitCode === null && browser.signalCode === null) browser.kill('SIGKILL');
  }
  process.exit(code);
}

main().then(() => {
  console.log(failures === 0 ? 'ui: all checks passed' : `ui: ${failures} check(s) failed`);
  return finish(failures === 0 ? 0 : 1);
}, (e) => {
  console.error('ui: ' + (e.stack || e));
  return finish(1);
});

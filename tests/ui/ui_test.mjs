// ui_test: drive headless Chromium over the DevTools protocol against a running sipscope:
// the call list loads and filters, a click opens a call, the SIP ladder (SVG) and the quality
// charts (uPlot canvases) are drawn, a click on an arrow shows the raw message, the dashboard
// draws; no console error, exception or failed request anywhere. Saves screenshots.
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
    await page('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: h, deviceScaleFactor: 1, mobile: false });
    await sleep(300);
    const shot = await page('Page.captureScreenshot', { format: 'png', captureBeyondViewport: false });
    await page('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: HEIGHT, deviceScaleFactor: 1, mobile: false });
    const file = join(outDir, name);
    writeFileSync(file, Buffer.from(shot.data, 'base64'));
    console.log('     screenshot ' + file);
  };

  // 1. The call list.
  await page('Page.navigate', { url: baseUrl + '#/calls' });
  if (await waitFor(`${LOADED} && document.querySelectorAll('#calls-table tbody tr[data-id]').length === 10`, 'the 10 calls of the list')) {
    check(true, 'call list shows the 10 calls of samples/small.pcap');
  }
  check(await evaluate(`document.getElementById('list-summary').textContent`) === '1–10 of 10', 'list summary says 1–10 of 10');
  check(await evaluate(`document.querySelectorAll('#calls-table .badge.state-rejected').length`) === 1, 'a rejected call is colour-coded');
  check(await evaluate(`document.querySelectorAll('#calls-table .mos.mos-good').length`) > 0, 'MOS cells are colour-coded');
  await screenshot('calls.png');

  // 2. Filter by state through the form.
  await evaluate(`(() => { const s = document.querySelector('#filters select[name=state]'); s.value = 'completed'; })()`);
  await click('#filters button[type=submit]');
  if (await waitFor(`location.hash.includes('state=completed') && ${LOADED} && document.querySelectorAll('#calls-table tbody tr[data-id]').length === 8`, 'the filtered list')) {
    check(true, 'filtering by state=completed leaves 8 calls');
  }
  // Sort by MOS, worst first (two clicks on the header: descending, then ascending).
  await click('#calls-table th.sortable:nth-of-type(8) a');
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
  // tests/ui/run marked each call's first message as decrypted from TLS: one lock, with a tooltip.
  const vias = await evaluate(`[...document.querySelectorAll('svg.ladder g.msg .via-mark')].map(e => [e.closest('g.msg').dataset.index, e.querySelector('title')?.textContent || ''])`);
  check(vias.length === 1 && vias[0][0] === '0' && vias[0][1].includes('TLS'), `the message that came by TLS is marked, with a title (${JSON.stringify(vias)})`);
  if (await waitFor(`document.querySelectorAll('#charts canvas').length >= 3`, 'the quality charts')) {
    check(true, 'jitter, loss and MOS charts are drawn (uPlot canvases)');
  }
  check(await evaluate(`document.querySelectorAll('#streams-table tbody tr').length`) >= 1, 'the streams table has rows');
  check(await evaluate(`document.querySelectorAll('#findings li').length`) >= 1, 'findings are listed');
  check((await evaluate(`document.getElementById('download-pcap').getAttribute('href')`)).endsWith('/pcap'), 'download-pcap button links the pcap route');
  await click('svg.ladder g.msg .msg-label');
  if (await waitFor(`/^(INVITE|ACK|BYE|CANCEL|SIP\\/2\\.0) /.test(document.getElementById('raw-message').textContent)`, 'the raw message')) {
    check(true, 'clicking an arrow shows the raw SIP message');
  }
  await screenshot('call.png');

  // 4. A call with one-way audio and NAT says so in words.
  const oneWay = await evaluate(`fetch('api/v1/calls?limit=100').then(r => r.json()).then(j => (j.calls.find(c => c.one_way) || {}).id)`);
  if (oneWay) {
    await page('Page.navigate', { url: `${baseUrl}#/call/${oneWay}` });
    if (await waitFor(`[...document.querySelectorAll('#findings li')].some(li => li.textContent.startsWith('One-way audio'))`, 'the one-way finding')) {
      check(true, 'a one-way call is explained in words');
    }
    await waitFor(LOADED, 'the one-way call\'s charts');
    await screenshot('call-one-way.png');
  }

  // 5. The dashboard.
  await page('Page.navigate', { url: baseUrl + '#/dashboard' });
  if (await waitFor(`${LOADED} && document.querySelectorAll('#chart-calls canvas').length > 0 && document.querySelectorAll('#chart-mos canvas').length > 0 && document.querySelectorAll('#worst-table tbody tr').length > 0`, 'the dashboard')) {
    check(true, 'dashboard draws calls per step, MOS distribution and worst calls');
  }
  const tiles = await evaluate(`[...document.querySelectorAll('.tile-value')].map(e => e.textContent)`);
  check(tiles[0] === '10' && tiles[2] === '80.0 %', 'dashboard tiles: ' + tiles.join(', '));
  // The sample's REGISTER flood sources and scanners are in the alerts panel.
  if (await waitFor(`document.querySelectorAll('#alerts-table tbody tr.row-alert').length >= 4`, 'the alerts panel')) {
    const types = await evaluate(`[...document.querySelectorAll('#alerts-table tbody tr.row-alert td:nth-child(2)')].map(e => e.textContent)`);
    check(types.includes('scanner'), 'dashboard lists the security alerts: ' + types.join(', '));
  }
  await screenshot('dashboard.png');

  // 5b. The registrations page: every AOR the flood tried, with its outcome.
  await page('Page.navigate', { url: baseUrl + '#/registrations' });
  if (await waitFor(`${LOADED} && document.querySelectorAll('#registrations-table tbody tr').length > 0`, 'the registrations page')) {
    const outcomes = await evaluate(`[...document.querySelectorAll('#registrations-table tbody td:nth-child(5)')].map(e => e.textContent)`);
    check(outcomes.length > 0 && outcomes.every((o) => o.length > 0), 'registrations page lists bindings: ' + outcomes.slice(0, 3).join(', '));
  }
  await screenshot('registrations.png');

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

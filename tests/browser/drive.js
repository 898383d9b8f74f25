// Drives tests/browser/index.html in headless Debian Chromium (playwright-core): serves the page
// and MQTT.js's browser bundle from a static server on 127.0.0.1, opens it with the broker's ws
// and wss URLs, waits until both connections are subscribed and have received their own
// message, prints "READY", then waits until each shows the message the test publishes to
// TOPIC/NAME/external. Prints one JSON line at the end; exit 0 on success.
//   node drive.js --ws URL --wss URL --cert SERVER_PEM --topic PREFIX --expect-ws TEXT --expect-wss TEXT
// Chromium trusts the development server certificate through its SPKI hash
// (--ignore-certificate-errors-spki-list, honoured with a fresh --user-data-dir).
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const jsDir = path.join(__dirname, '..', 'js');
const { chromium } = require(path.join(jsDir, 'node_modules', 'playwright-core'));

const STEP_MS = 20000;

function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function spkiHash(certFile) {
  const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
  const der = cert.publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

function staticServer() {
  const files = {
    '/': [path.join(__dirname, 'index.html'), 'text/html'],
    '/page.js': [path.join(__dirname, 'page.js'), 'text/javascript'],
    '/mqtt.min.js': [path.join(jsDir, 'node_modules', 'mqtt', 'dist', 'mqtt.min.js'),
      'text/javascript'],
  };
  const server = http.createServer((req, res) => {
    const f = files[new URL(req.url, 'http://x').pathname];
    if (!f) { res.writeHead(req.url === '/favicon.ico' ? 204 : 404); res.end(); return; }
    res.writeHead(200, { 'content-type': f[1] });
    fs.createReadStream(f[0]).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const topic = arg('--topic');
  const want = { ws: arg('--expect-ws'), wss: arg('--expect-wss') };
  const server = await staticServer();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tp-chromium-'));
  const consoleLines = [];
  let context;
  const result = { ok: false };
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage',
        `--ignore-certificate-errors-spki-list=${spkiHash(arg('--cert'))}`],
    });
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    const q = new URLSearchParams({ ws: arg('--ws'), wss: arg('--wss'), topic });
    await page.goto(`http://127.0.0.1:${server.address().port}/?${q}`);

    const shows = (name, t, text) =>
      page.locator(`#${name} li[data-topic="${topic}/${name}/${t}"]`, { hasText: text })
        .first().waitFor({ timeout: STEP_MS });
    for (const name of ['ws', 'wss']) await shows(name, 'self', `hello from the page over ${name}`);
    console.log('READY');
    for (const name of ['ws', 'wss']) await shows(name, 'external', want[name]);
    for (const name of ['ws', 'wss']) {
      result[name] = await page.locator(`#${name} li`).allTextContents();
    }
    result.ok = true;
  } catch (e) {
    result.error = String(e.message || e).split('\n')[0];
    if (context && context.pages()[0]) {
      const page = context.pages()[0];
      for (const name of ['ws', 'wss']) {
        result[`${name}_state`] = await page.locator(`#${name} .state`).textContent()
          .catch(() => null);
      }
    }
  } finally {
    result.console = consoleLines.slice(-20);
    if (context) await context.close().catch(() => {});
    server.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

main();

// MQTT.js round trip for the integration tests: connects to URL, subscribes to TOPIC, publishes
// a message there and waits for it to come back. Prints one JSON line and exits 0 on success,
// 1 otherwise (a hard timeout included).
//   node roundtrip.js URL TOPIC [--ca FILE] [--size N] [--v31]
// --ca: the CA that signed the server (mqtts, wss); --size: payload bytes (default 32);
// --v31: MQTT 3.1 (over WebSocket that offers the subprotocol "mqttv3.1").
'use strict';
const fs = require('fs');
const mqtt = require('mqtt');

function main() {
  const [url, topic, ...rest] = process.argv.slice(2);
  if (!url || !topic) {
    console.error('usage: node roundtrip.js URL TOPIC [--ca FILE] [--size N] [--v31]');
    process.exit(2);
  }
  const opt = (name) => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : undefined; };
  const size = Number(opt('--size') || 32);
  const v31 = rest.includes('--v31');
  const options = {
    clientId: `mqttjs-${process.pid}-${Date.now() % 100000}`,
    protocolVersion: v31 ? 3 : 4,
    protocolId: v31 ? 'MQIsdp' : 'MQTT',
    reconnectPeriod: 0,
    connectTimeout: 8000,
  };
  const caFile = opt('--ca');
  if (caFile) {
    const ca = fs.readFileSync(caFile);
    Object.assign(options, { ca, rejectUnauthorized: true, wsOptions: { ca } });
  }
  const payload = Buffer.alloc(size, 'm');
  const started = Date.now();
  let finished = false;
  const done = (ok, extra) => {
    if (finished) return;
    finished = true;
    console.log(JSON.stringify({ ok, url, ms: Date.now() - started, ...extra }));
    client.end(true, () => process.exit(ok ? 0 : 1));
    setTimeout(() => process.exit(ok ? 0 : 1), 1000).unref();
  };
  const client = mqtt.connect(url, options);
  const timer = setTimeout(() => done(false, { error: 'timeout' }), 15000);
  client.on('error', (e) => { clearTimeout(timer); done(false, { error: String(e.message || e) }); });
  client.on('connect', () => {
    client.subscribe(topic, { qos: 1 }, (err, granted) => {
      if (err) return done(false, { error: `subscribe: ${err.message}` });
      client.publish(topic, payload, { qos: 1 }, (perr) => {
        if (perr) done(false, { error: `publish: ${perr.message}` });
      });
    });
  });
  client.on('message', (t, msg) => {
    clearTimeout(timer);
    if (t === topic && msg.equals(payload)) done(true, { bytes: msg.length });
    else done(false, { error: `unexpected message on ${t} (${msg.length} bytes)` });
  });
}

main();

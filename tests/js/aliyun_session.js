// The official Aliyun Node.js device SDK (alibabacloud-iot-device-sdk), whose links keep their
// session (clean: false, the SDK's default), pointed at thingport with only the broker URL
// changed. Driven by tests/integration/test_cluster_sessions.py; prints one JSON line per event.
//   node aliyun_session.js HOST PORT DEVICE_JSON subscribe      subscribes to /pk/dn/user/get,
//                                                               then ends its link
//   node aliyun_session.js HOST PORT DEVICE_JSON receive N      prints the first N messages on
//                                                               it, subscribing to nothing
// DEVICE_JSON: {"productKey","deviceName","deviceSecret"}.
const iot = require('alibabacloud-iot-device-sdk');

const [host, port, deviceJson, mode, count] = process.argv.slice(2);
const d = JSON.parse(deviceJson);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const device = iot.device({ ...d, brokerUrl: `mqtt://${host}:${port}` });
const topic = `/${d.productKey}/${d.deviceName}/user/get`;

const timer = setTimeout(() => { say({ event: 'timeout' }); process.exit(1); }, 15000);
const done = (code) => { clearTimeout(timer); device.end(); setTimeout(() => process.exit(code), 200); };
const got = [];

device.on('message', (t, payload) => {
  if (t !== topic) return;
  got.push(payload.toString());
  if (mode === 'receive' && got.length === Number(count)) {
    say({ event: 'received', payloads: got });
    done(0);
  }
});
device.on('connect', () => {
  say({ event: 'connect' });
  if (mode === 'subscribe') {
    device.subscribe(topic, { qos: 1 }, (err) => {
      say({ event: 'subscribed', error: err ? String(err.message || err) : null });
      done(err ? 1 : 0);
    });
  }
});
device.on('error', (e) => say({ event: 'error', message: String(e && e.message) }));

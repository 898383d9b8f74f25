// The official Aliyun Node.js device SDK (alibabacloud-iot-device-sdk) asking for its product's
// remote configuration (device.getConfig) and told of a new one (device.onConfig), pointed at
// thingport with only the broker URL changed. Each configuration is downloaded from its URL and
// its SHA-256 printed; the push is answered on thing/config/push_reply with code 200 (the SDK
// leaves that to the application). Driven by tests/integration/test_remote_config.py; prints one
// JSON line per step on stdout.
//   node aliyun_config.js HOST PORT DEVICE_JSON    ({"productKey","deviceName","deviceSecret"})
const crypto = require('crypto');
const http = require('http');
const iot = require('alibabacloud-iot-device-sdk');

const [host, port, deviceJson] = process.argv.slice(2);
const d = JSON.parse(deviceJson);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const device = iot.device({ ...d, brokerUrl: `mqtt://${host}:${port}` });

const timer = setTimeout(() => { say({ step: 'timeout' }); process.exit(1); }, 15000);
const done = (code) => { clearTimeout(timer); device.end(); setTimeout(() => process.exit(code), 200); };

function sha256Of(url, cb) {
  http.get(url, (res) => {
    const h = crypto.createHash('sha256');
    res.on('data', (chunk) => h.update(chunk));
    res.on('end', () => cb(h.digest('hex')));
  }).on('error', (e) => { say({ step: 'error', message: String(e.message) }); done(1); });
}

device.on('connect', () => {
  device.onConfig((res) => {
    sha256Of(res.params.url, (sha256) => {
      device.publish(`/sys/${d.productKey}/${d.deviceName}/thing/config/push_reply`,
        JSON.stringify({ id: res.id, code: 200, data: {} }), { qos: 1 }, () => {
          say({ step: 'onConfig', params: res.params, sha256 });
          done(0);
        });
    });
  });
  device.getConfig((res) => {
    if (res.code !== 200) { say({ step: 'getConfig', code: res.code }); return done(1); }
    sha256Of(res.data.url, (sha256) => say({ step: 'getConfig', code: res.code, data: res.data, sha256 }));
  });
});
device.on('error', (e) => say({ step: 'error', message: String(e && e.message) }));

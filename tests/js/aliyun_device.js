// The Aliyun docs' Node.js device, as written there (hmacsha1, securemode=3, a random client id,
// clean=false, keepalive 60), pointed at thingport with only the host changed. Driven by
// tests/integration/test_mqttjs_device.py; prints one JSON line per event on stdout.
//   node aliyun_device.js HOST PORT PK DN DS [thing]
// With "thing" it runs the docs' thing-model example instead (tests/integration/test_thing.py):
// it posts temperature and humidity on /sys/{pk}/{dn}/thing/event/property/post, prints the
// post_reply, and answers property sets on thing/service/property/set with code 200.
const crypto = require('crypto');
const mqtt = require('mqtt');

const [host, port, productKey, deviceName, deviceSecret, mode] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function signHmacSha1(params, secret) {
  const keys = Object.keys(params).sort();
  const list = [];
  keys.map((key) => { list.push(`${key}${params[key]}`); });
  return crypto.createHmac('sha1', secret).update(list.join('')).digest('hex');
}

const options = {
  productKey,
  deviceName,
  timestamp: Date.now(),
  clientId: Math.random().toString().substr(2),
};
options.password = signHmacSha1(options, deviceSecret);
options.clientId = `${options.clientId}|securemode=3,signmethod=hmacsha1,timestamp=${options.timestamp}|`;
options.username = `${options.deviceName}&${options.productKey}`;

const client = mqtt.connect(`tcp://${host}:${port}`, {
  clientId: options.clientId,
  username: options.username,
  password: options.password,
  keepalive: 60,
  clean: false,
  reconnectPeriod: 0,
  protocolVersion: 4,
});

const timer = setTimeout(() => { say({ event: 'timeout' }); process.exit(2); }, 15000);
client.on('error', (e) => { say({ event: 'error', message: String(e && e.message) }); });
client.on('close', () => say({ event: 'close' }));
const sys = `/sys/${productKey}/${deviceName}`;

// The docs' thing-model example: properties posted as Alink JSON with a numeric id.
function getPostData() {
  const payloadJson = {
    id: Date.now(),
    params: {
      temperature: Math.floor((Math.random() * 20) + 10),
      humidity: Math.floor((Math.random() * 20) + 10),
    },
    method: 'thing.event.property.post',
  };
  return JSON.stringify(payloadJson);
}

function thingExample() {
  const topics = [`${sys}/thing/event/property/post_reply`, `${sys}/thing/service/property/set`,
    `/${productKey}/${deviceName}/user/get`];
  client.subscribe(topics, { qos: 0 }, (err) => {
    say({ event: 'suback', error: err ? String(err) : null });
    const data = getPostData();
    client.publish(`${sys}/thing/event/property/post`, data, { qos: 0 });
    say({ event: 'posted', payload: data });
  });
}

client.on('connect', (connack) => {
  say({ event: 'connect', sessionPresent: connack.sessionPresent });
  if (mode === 'thing') return thingExample();
  const own = `/${productKey}/${deviceName}`;
  client.subscribe([`${own}/user/get`, `${own}/control`, `/${productKey}/someone-else/user/get`],
    { qos: 1 }, (err, granted) => {
      // MQTT.js 5 reports a refused filter (0x80) as an error carrying the SUBACK packet.
      const codes = err && err.packet ? err.packet.granted : granted.map((g) => g.qos);
      say({ event: 'suback', error: err ? String(err) : null, granted: codes });
      client.publish(`${own}/user/update`, JSON.stringify({ temperature: 21.5, humidity: 40 }),
        { qos: 1 }, (perr) => {
          say({ event: 'puback', error: perr ? String(perr) : null });
        });
    });
});
client.on('message', (topic, payload) => {
  say({ event: 'message', topic, payload: payload.toString() });
  if (topic === `${sys}/thing/service/property/set`) {
    const request = JSON.parse(payload.toString());
    const reply = JSON.stringify({ id: request.id, code: 200, data: {} });
    client.publish(`${topic}_reply`, reply, { qos: 1 }, () => say({ event: 'set_replied' }));
  }
  if (payload.toString() === 'bye') {
    clearTimeout(timer);
    client.end(false, () => process.exit(0));
  }
});

// The official Aliyun Node.js device SDK (alibabacloud-iot-device-sdk) as a gateway, pointed at
// thingport with only the broker URL changed: thing.sub.register of a sub-device (regiestSubDevice),
// thing.topo.add of it, thing.topo.get, its login through the gateway (combine/login), a property
// post as the sub-device, and its logout. Driven by
// tests/integration/test_sub_sessions.py; prints one JSON line per answer on stdout.
//   node aliyun_gateway.js HOST PORT GATEWAY_JSON SUB_JSON
// where each JSON is {"productKey","deviceName","deviceSecret"}.
const iot = require('alibabacloud-iot-device-sdk');

const [host, port, gatewayJson, subJson] = process.argv.slice(2);
const g = JSON.parse(gatewayJson);
const s = JSON.parse(subJson);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const gw = iot.gateway({ ...g, brokerUrl: `mqtt://${host}:${port}` });

const timer = setTimeout(() => { say({ step: 'timeout' }); process.exit(1); }, 15000);
const done = (code) => { clearTimeout(timer); gw.end(); setTimeout(() => process.exit(code), 200); };

// After the topology calls: the login, a post as the sub-device, the logout.
const loginPostLogout = () => {
  const sub = gw.login(s, (login) => {
    say({ step: 'login', code: login.code, data: login.data });
    if (login.code !== 200) return done(1);
    // The gateway subscribes the sub-device's topics once the login is answered.
    setTimeout(() => sub.postProps({ Temperature: 21.5 }, (post) => {
      say({ step: 'postProps', code: post.code });
      // The driver reads the sub-device's status (ONLINE) before this logout.
      setTimeout(() => gw.logout({ productKey: s.productKey, deviceName: s.deviceName },
        (out) => { say({ step: 'logout', code: out.code }); done(0); }), 1000);
    }), 300);
  });
};
gw.on('connect', () => {
  const named = { productKey: s.productKey, deviceName: s.deviceName };
  gw.regiestSubDevice(named, (reg) => {
    say({ step: 'regiestSubDevice', code: reg.code, data: reg.data });
    gw.addTopo([s], (topo) => {
      say({ step: 'addTopo', code: topo.code });
      gw.getTopo((got) => {
        say({ step: 'getTopo', code: got.code, data: got.data });
        loginPostLogout();
      });
    });
  });
});
gw.on('error', (e) => say({ step: 'error', message: String(e && e.message) }));

// The browser test page: one MQTT.js client per URL in the query string (?ws=..&wss=..), each
// subscribing to TOPIC/NAME/#, publishing TOPIC/NAME/self, and listing every message it receives
// as <li data-topic="...">payload</li>. section[data-state] says how far it got.
(function () {
  'use strict';
  const query = new URLSearchParams(window.location.search);
  const prefix = query.get('topic') || 'browser';

  function run(name) {
    const section = document.getElementById(name);
    const state = section.querySelector('.state');
    const show = (s, text) => { section.dataset.state = s; state.textContent = text || s; };
    const url = query.get(name);
    if (!url) return show('off', 'no URL given');
    show('connecting');
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 8000,
      clientId: `browser-${name}-${Math.random().toString(16).slice(2, 10)}`,
    });
    client.on('connect', () => {
      show('connected');
      client.subscribe(`${prefix}/${name}/#`, { qos: 1 }, (err) => {
        if (err) return show('error', `subscribe failed: ${err.message}`);
        show('subscribed');
        client.publish(`${prefix}/${name}/self`, `hello from the page over ${name}`, { qos: 1 });
      });
    });
    client.on('message', (topic, payload) => {
      const li = document.createElement('li');
      li.dataset.topic = topic;
      li.textContent = payload.toString();
      section.querySelector('.messages').appendChild(li);
    });
    client.on('error', (e) => show('error', `error: ${e.message}`));
    client.on('close', () => {
      if (section.dataset.state !== 'subscribed') show('error', 'connection closed');
    });
  }

  run('ws');
  run('wss');
})();

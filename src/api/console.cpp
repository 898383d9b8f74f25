#include "api/console.hpp"

namespace thingport::api {

namespace {

constexpr std::string_view page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>thingport console</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-top: 1em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; }
th { background: #f3f3f3; }
.ONLINE { color: #080; } .OFFLINE { color: #666; }
.UNACTIVE { color: #888; } .DISABLE { color: #a00; }
#error { color: #a00; }
a { cursor: pointer; color: #06c; }
</style>
</head>
<body>
<h1>thingport</h1>
<form id="login">
  <label>Admin token <input id="token" type="password" size="48" autocomplete="off"></label>
  <button>Use</button>
  <span>(<code>data/admin.token</code>; kept for this tab only)</span>
</form>
<p id="error"></p>
<h2>Products</h2>
<table id="products"><thead><tr><th>productKey</th><th>name</th><th>devices</th>
<th>dynamic registration</th></tr></thead><tbody></tbody></table>
<h2 id="devtitle" hidden>Devices</h2>
<table id="devices" hidden><thead><tr><th>deviceName</th><th>status</th><th>ip</th>
<th>last online</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem("thingport.token") || "";
async function api(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || r.statusText);
  return body;
}
function row(tbody, cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c;
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
  return tr;
}
function when(ms) { return ms ? new Date(ms).toLocaleString() : "-"; }
async function showDevices(pk) {
  const body = await api("/api/v1/products/" + encodeURIComponent(pk) + "/devices?limit=1000");
  $("devtitle").textContent = "Devices of " + pk + " (" + body.total + ")";
  $("devtitle").hidden = false;
  $("devices").hidden = false;
  const tbody = $("devices").tBodies[0];
  tbody.replaceChildren();
  for (const d of body.devices) {
    const tr = row(tbody, [d.deviceName, d.status, d.ip || "-", when(d.lastOnline)]);
    tr.cells[1].className = d.status;
  }
}
async function refresh() {
  $("error").textContent = "";
  try {
    const body = await api("/api/v1/products?limit=1000");
    const tbody = $("products").tBodies[0];
    tbody.replaceChildren();
    for (const p of body.products) {
      const a = document.createElement("a");
      a.textContent = p.productKey;
      const fail = (e) => { $("error").textContent = e.message; };
      a.onclick = () => showDevices(p.productKey).catch(fail);
      row(tbody, [a, p.name, String(p.deviceCount ?? "-"), p.dynamicRegistration ? "on" : "off"]);
    }
  } catch (e) {
    $("error").textContent = e.message;
  }
}
$("login").onsubmit = (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("thingport.token", $("token").value.trim());
  $("token").value = "";
  refresh();
};
if (token()) refresh();
</script>
</body>
</html>
)html";

} // namespace

std::string_view console_html() noexcept {
  return page;
}

} // namespace thingport::api

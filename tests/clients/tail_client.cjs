// tail_client.cjs — follows logferry-store's /loki/api/v1/tail with Node's
// own WebSocket client (undici, `node --experimental-websocket`), an RFC 6455
// implementation independent of the store's and of the Python test client.
// Usage: node --experimental-websocket tail_client.cjs <ws-url> <count>
// Prints one JSON line per entry ({"labels":..,"ts":..,"line":..}), then
// {"closed":code} once it has closed the socket after <count> entries.
const [url, countArg] = process.argv.slice(2);
const want = Number(countArg);
let got = 0;
const ws = new WebSocket(url);
const timer = setTimeout(() => {
  console.error(`timeout after ${got} of ${want} entries`);
  process.exit(2);
}, 60000);
ws.onopen = () => console.log(JSON.stringify({ open: true }));
ws.onmessage = (ev) => {
  const frame = JSON.parse(ev.data);
  for (const s of frame.streams || []) {
    for (const [ts, line] of s.values) {
      console.log(JSON.stringify({ labels: s.stream, ts, line }));
      got++;
    }
  }
  if (got >= want) ws.close(1000, 'done');
};
ws.onerror = (ev) => {
  console.error('websocket error', ev.message || '');
  process.exit(3);
};
ws.onclose = (ev) => {
  clearTimeout(timer);
  console.log(JSON.stringify({ closed: ev.code, reason: ev.reason }));
  process.exit(got >= want ? 0 : 4);
};

// One new TLS connection per host, timed: handshake, then (after DELAY_MS,
// standing in for the network round trip a real client's request takes to
// arrive) one HTTP/1.1 request, until its first response byte. Prints one
// JSON line per host: {host, handshake_ms, wait_ms, total_ms}.
//
//   node prewarm-client.mjs PORT CA_FILE DELAY_MS HOST...
import { readFileSync } from "node:fs";
import tls from "node:tls";

const [port, caFile, delayText, ...hosts] = process.argv.slice(2);
const ca = readFileSync(caFile);
const delay = Number(delayText);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

for (const host of hosts) {
  const started = performance.now();
  const socket = tls.connect({ host: "127.0.0.1", port: Number(port), servername: host, ca, ALPNProtocols: ["http/1.1"] });
  await new Promise((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  const handshake = performance.now();
  if (delay > 0) await sleep(delay);
  const sent = performance.now();
  const firstByte = new Promise((resolve, reject) => {
    socket.once("data", resolve);
    socket.once("error", reject);
  });
  socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  await firstByte;
  const done = performance.now();
  socket.destroy();
  console.log(JSON.stringify({ host, handshake_ms: handshake - started, wait_ms: done - sent, total_ms: done - started }));
}

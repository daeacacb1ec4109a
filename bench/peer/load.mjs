/**
 * One load round of `npm run bench:peer`: autocannon against one server,
 * then its figures as one JSON line on stdout. Run with Node 24 from
 * bench/peer.ts, in a process of its own so that load generation never
 * shares an event loop with either server.
 *
 * Arguments: a JSON object { url, body, headers, connections, durationSeconds }
 * (`headers`: extra request headers, such as a bearer token).
 */
import autocannon from 'autocannon';

const { url, body, headers = {}, connections, durationSeconds } = JSON.parse(process.argv[2] ?? '{}');
const result = await autocannon({
  url,
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
  body,
  connections,
  duration: durationSeconds,
});
console.log(
  JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    durationSeconds: result.duration,
  }),
);

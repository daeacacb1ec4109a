/**
 * The webhooks bench's receiver (./webhook-receiver.ts) in a process of its
 * own (the default; `BENCH_WEBHOOK_RECEIVER=in-process` runs it in the
 * bench's process instead): a receiver is the subscriber's server, and its
 * HTTP parsing and `standardwebhooks` verification are not the API's work. The parent talks to it over IPC: it sends the endpoints'
 * secrets; the child reports its counters and each arrival, on the wall
 * clock (`performance.timeOrigin + performance.now()`), in batches every 20 ms (its arrival times are taken as each message is verified).
 *
 * Run as a child: `node --import tsx bench/lib/webhook-receiver-child.ts`.
 */
import { performance } from 'node:perf_hooks';

import { startBenchReceiver, type FromChild, type ToChild } from './webhook-receiver.js';

async function main(): Promise<void> {
  const send = (message: FromChild) => process.send?.(message);
  // Arrivals since the last report: each is sent once (the receiver's own map keeps them all).
  let fresh: Array<[string, number]> = [];
  const receiver = await startBenchReceiver((key, at) => fresh.push([key, performance.timeOrigin + at]));
  let reported = 0;
  const flush = () => {
    const version = receiver.count + receiver.rejected;
    if (version === reported) return;
    reported = version;
    const arrivals = fresh;
    fresh = [];
    send({ progress: { count: receiver.count, rejected: receiver.rejected, duplicates: receiver.duplicates, arrivals } });
  };
  const timer = setInterval(flush, 20);
  process.on('message', (message: ToChild) => {
    if ('trust' in message) {
      receiver.trust(...message.trust);
      send({ trusted: message.trust[0] });
    } else {
      clearInterval(timer);
      void receiver.close().then(() => process.exit(0));
    }
  });
  // The URL without an endpoint's path: the parent appends `/hook/<id>` like `urlFor`.
  send({ ready: { url: receiver.urlFor('') } });
}

void main();

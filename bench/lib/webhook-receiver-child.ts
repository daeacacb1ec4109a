/**
 * The webhooks bench's receiver (./webhook-receiver.ts) in a process of its
 * own, for `BENCH_WEBHOOK_RECEIVER=process`: what the receiver's own work
 * (HTTP parsing, `standardwebhooks` verification) costs the bench's process
 * when it is in it. The parent talks to it over IPC: it sends the endpoints'
 * secrets; the child reports its counters and each arrival, on the wall
 * clock (`performance.timeOrigin + performance.now()`), in batches every 5 ms.
 *
 * Run as a child: `node --import tsx bench/lib/webhook-receiver-child.ts`.
 */
import { performance } from 'node:perf_hooks';

import { startBenchReceiver, type FromChild, type ToChild } from './webhook-receiver.js';

async function main(): Promise<void> {
  const send = (message: FromChild) => process.send?.(message);
  const receiver = await startBenchReceiver();
  let reported = 0;
  const seen = new Set<string>();
  const flush = () => {
    const version = receiver.count + receiver.rejected;
    if (version === reported) return;
    reported = version;
    const arrivals: Array<[string, number]> = [];
    for (const [key, at] of receiver.arrivals) {
      if (seen.has(key)) continue;
      seen.add(key);
      arrivals.push([key, performance.timeOrigin + at]);
    }
    send({ progress: { count: receiver.count, rejected: receiver.rejected, duplicates: receiver.duplicates, arrivals } });
  };
  const timer = setInterval(flush, 5);
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

/**
 * A CPU profile of a running Node process over a chosen window, through its
 * inspector (the process runs with `--inspect=127.0.0.1:<port>`): the
 * DevTools protocol's `Profiler.start` and `Profiler.stop` over a WebSocket.
 * Unlike `node --cpu-prof`, which covers the whole life of the process, the
 * profile then holds only the measured load, not start-up and warm-up.
 */
import { once } from 'node:events';

import WebSocket from 'ws';

export interface ProfilerSession {
  /** Stops sampling and returns the profile (the `.cpuprofile` JSON). */
  stop(): Promise<unknown>;
}

/** Connects to the inspector on `port` and starts sampling every `intervalUs` microseconds (1 ms, as `--cpu-prof`). */
export async function startProfiling(port: number, intervalUs = 1000): Promise<ProfilerSession> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl?: string }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  const socket = new WebSocket(url);
  await once(socket, 'open');
  let lastId = 0;
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown; error?: { message: string } };
    const waiting = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiting || message.id === undefined) return;
    pending.delete(message.id);
    if (message.error) waiting.reject(new Error(message.error.message));
    else waiting.resolve(message.result);
  });
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      lastId += 1;
      pending.set(lastId, { resolve, reject });
      socket.send(JSON.stringify({ id: lastId, method, params }));
    });
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: intervalUs });
  await call('Profiler.start');
  return {
    async stop() {
      const result = (await call('Profiler.stop')) as { profile: unknown };
      socket.close();
      return result.profile;
    },
  };
}

/**
 * A load process of `npm run bench:writes` (bench/writes.ts), run as a child
 * process with the same Node as the API so that load generation never shares
 * an event loop with the server it measures. It lives for the whole run and
 * takes one command per line on stdin, answering one JSON line on stdout:
 *
 *   - `api` mode: a closed loop of keyed mutations over HTTP against the API
 *     (keep-alive connections, a fresh Idempotency-Key per request);
 *   - `hand` mode: a closed loop of the same transactions written by hand over
 *     `pg` (bench/lib/write-scenarios.ts), on a pool of its own that lives as
 *     long as the process, like the API's.
 *
 * Argument: a JSON object { mode, apiUrl?, databaseUrl?, poolMax? }.
 * Command: { scenario, connections, durationMs, customers, jobs (one list per
 * connection), cycle (start a connection's list again when it is used up) }.
 * Answer: the loop's result and the CPU this process used during it.
 */
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';

import pg from 'pg';

import { httpSender, runClosedLoop, type LoadStep } from './load.js';
import { apiBody, judgeApiAnswer, runByHand, type BenchCustomer, type WriteJob, type WriteScenario } from './write-scenarios.js';

interface WorkerOptions {
  mode: 'api' | 'hand';
  apiUrl?: string;
  databaseUrl?: string;
  poolMax?: number;
}

export interface WriteCommand {
  scenario: WriteScenario;
  connections: number;
  durationMs: number;
  customers: BenchCustomer[];
  jobs: WriteJob[][];
  cycle: boolean;
}

const options = JSON.parse(process.argv[2] ?? '{}') as WorkerOptions;

const pool =
  options.mode === 'hand'
    ? new pg.Pool({ connectionString: options.databaseUrl, max: options.poolMax ?? 10, application_name: 'bench-hand-written', idleTimeoutMillis: 0 })
    : undefined;
pool?.on('error', () => undefined);
const sender = options.mode === 'api' ? httpSender(options.apiUrl ?? '', 64) : undefined;

function stepsOf(command: WriteCommand): (connection: number) => LoadStep | undefined {
  const cursors = command.jobs.map(() => 0);
  return (connection) => {
    const jobs = command.jobs[connection] ?? [];
    let cursor = cursors[connection] ?? 0;
    if (cursor >= jobs.length) {
      if (!command.cycle || jobs.length === 0) return undefined;
      cursor = 0;
    }
    const job = jobs[cursor] as WriteJob;
    cursors[connection] = cursor + 1;
    if (pool) return () => runByHand({ pool, credential: 'bench:hand-written' }, command.scenario, command.customers, job);
    const customer = command.customers[job.customer];
    if (!sender || !customer) throw new Error(`no sender or no customer ${job.customer}`);
    const request = {
      method: 'POST' as const,
      path: '/graphql',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${customer.token}`,
        'idempotency-key': randomUUID(),
      },
      body: apiBody(command.scenario, job),
    };
    return async () => {
      const { status, body } = await sender.send(request);
      return judgeApiAnswer(status, body);
    };
  };
}

async function run(command: WriteCommand) {
  const cpuBefore = process.cpuUsage();
  const result = await runClosedLoop({ connections: command.connections, durationMs: command.durationMs, next: stepsOf(command) });
  const cpu = process.cpuUsage(cpuBefore);
  return { ...result, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() === '') continue;
  try {
    process.stdout.write(`${JSON.stringify({ ok: true, result: await run(JSON.parse(line) as WriteCommand) })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(error) })}\n`);
  }
}
sender?.close();
await pool?.end();

/**
 * Metrics of the job queue (src/jobs/), in the process registry of
 * ./metrics.ts: queue depth by state (read from the database at scrape
 * time), and each job's run time and failures by task.
 */
import { Counter, Gauge, Histogram } from 'prom-client';

import { BoundedLabel, registry } from './metrics.js';

/** Jobs by state, as the queue's table holds them. */
export interface QueueDepthSample {
  ready: number;
  scheduled: number;
  locked: number;
  failed: number;
}

/** Reads the queue's depth; one source per process (the database is shared). */
export type QueueDepthSource = () => Promise<QueueDepthSample>;

const taskLabel = new BoundedLabel(100);
let depthSource: QueueDepthSource | undefined;

new Gauge({
  name: 'jobs_queue_depth',
  help:
    'Jobs in the queue by state, read from the database at scrape time: ready (due, waiting for a worker), scheduled (due later, retries backing off included), ' +
    'locked (taken by a worker) and failed (out of attempts, kept with their last error). Every instance reports the same queue.',
  labelNames: ['state'] as const,
  registers: [registry],
  async collect() {
    if (!depthSource) return;
    try {
      const depth = await depthSource();
      for (const state of ['ready', 'scheduled', 'locked', 'failed'] as const) this.set({ state }, depth[state]);
    } catch {
      // The database is away: the outage has its own metrics; the gauge keeps its last values.
    }
  },
});

const jobDuration = new Histogram({
  name: 'job_duration_seconds',
  help: 'Run time of job attempts in this process, by task and outcome (ok, error: the attempt failed and may be retried, invalid_payload: failed for good).',
  labelNames: ['task', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});

const jobFailures = new Counter({
  name: 'job_failures_total',
  help: 'Failed job attempts in this process, by task and reason (error, invalid_payload).',
  labelNames: ['task', 'reason'] as const,
  registers: [registry],
});

/** Samples `source` for the queue depth gauge until the returned function is called. */
export function observeQueueDepth(source: QueueDepthSource): () => void {
  depthSource = source;
  return () => {
    if (depthSource === source) depthSource = undefined;
  };
}

export type JobOutcome = 'ok' | 'error' | 'invalid_payload';

/** One job attempt that ended. */
export function observeJob(task: string, outcome: JobOutcome, durationSeconds: number): void {
  const label = taskLabel.value(task);
  jobDuration.observe({ task: label, outcome }, durationSeconds);
  if (outcome !== 'ok') jobFailures.inc({ task: label, reason: outcome });
}

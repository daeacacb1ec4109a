import { context, propagation } from '@opentelemetry/api';

import type { Scope } from '../scope/scope.js';
import { addJob } from './jobs.repository.js';
import type { JobSpec } from './task.js';

export type { JobSpec, TaskName } from './task.js';

/** The reserved payload key carrying where the job came from (the enqueuing request's trace). */
export const JOB_META_KEY = '_meta';

/** What the enqueuer adds to a job's payload under `_meta`. */
export interface JobMeta {
  /** W3C trace context of the span that enqueued the job, when tracing is on. */
  traceparent?: string;
  tracestate?: string;
}

function currentTraceContext(): JobMeta | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'] ? carrier : undefined;
}

/**
 * What `enqueueJob` adds to a job's payload (`{ _meta: ... }` while a span is
 * active, else nothing), for a repository that enqueues its jobs inside one of
 * its own statements (`addJobCall` in ./jobs.repository.ts) instead of one
 * `enqueueJob` per job.
 */
export function jobPayloadMeta(): Record<string, unknown> {
  const meta = currentTraceContext();
  return meta ? { [JOB_META_KEY]: meta } : {};
}

/**
 * Adds a job to the queue inside the caller's unit of work, on its
 * transaction: the job exists once the unit commits, exactly once, and never
 * if it rolls back (a savepoint part that rolls back takes its jobs with
 * it). The worker is woken at commit (LISTEN/NOTIFY). Outside a unit of work
 * it throws: a job must not outlive a write that failed, nor be lost for one
 * that committed.
 *
 * When a span is active, its W3C `traceparent` travels in the payload's
 * `_meta`, and the job's span continues that trace.
 */
export async function enqueueJob(scope: Scope, job: JobSpec): Promise<void> {
  if (!scope.unit) throw new Error(`enqueueJob(${job.task}) must run inside a unit of work`);
  if (Object.keys(job.payload).some((key) => key.startsWith('_'))) throw new Error(`enqueueJob(${job.task}): payload keys starting with _ are reserved`);
  const id = await addJob(scope.db, { ...job, payload: { ...job.payload, ...jobPayloadMeta() } });
  scope.log.debug({ jobId: id, task: job.task }, 'job enqueued');
}

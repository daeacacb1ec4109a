/**
 * What each phase of a schema change made in phases means for reads and
 * writes (src/transitions/transition.ts), the backfill task's payload
 * bounds, and the products module's declaration as the registry checks it.
 */
import { describe, expect, it } from '@jest/globals';

import { isRetryableDatabaseError } from '../../src/db/faults.js';
import { jobTasks, transitionDefinitions } from '../../src/modules/registry.js';
import { backfillPayload } from '../../src/transitions/backfill.js';
import { TRANSITION_PHASES, type TransitionPhase } from '../../src/transitions/phases.js';
import { readsNewShape, writesNewShape } from '../../src/transitions/transition.js';

const at = (phase: TransitionPhase | undefined) => ({ phase: () => phase });

describe('reads and writes by phase', () => {
  it.each([
    ['before', false, false],
    ['expanded', false, true],
    ['backfilled', false, true],
    ['switched', true, true],
    ['contracted', true, true],
  ] as const)('%s: reads the new shape %s, writes it %s', (phase, reads, writes) => {
    expect(readsNewShape(at(phase), 'products.soldCount')).toBe(reads);
    expect(writesNewShape(at(phase), 'products.soldCount')).toBe(writes);
  });

  it('covers every phase', () => {
    expect(TRANSITION_PHASES).toEqual(['before', 'expanded', 'backfilled', 'switched', 'contracted']);
  });

  it('reads the old shape while the phase is unknown, and refuses writes as a database outage (503, retried)', () => {
    expect(readsNewShape(at(undefined), 'products.soldCount')).toBe(false);
    let thrown: unknown;
    try {
      writesNewShape(at(undefined), 'products.soldCount');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(isRetryableDatabaseError(thrown)).toBe(true);
    expect(String(thrown)).toContain('the phase of products.soldCount is not known yet');
  });
});

describe('the backfill task payload', () => {
  it('defaults to batches of 500 with 100 ms between them, 10 s per job', () => {
    expect(backfillPayload.parse({})).toEqual({ batchSize: 500, pauseMs: 100, runMs: 10_000 });
  });

  it.each([{ batchSize: 0 }, { batchSize: 5_001 }, { batchSize: 1.5 }, { pauseMs: -1 }, { pauseMs: 60_001 }, { runMs: 99 }, { runMs: 600_001 }, { batchSize: 10, extra: true }])('refuses %j', (payload) => {
    expect(backfillPayload.safeParse(payload).success).toBe(false);
  });
});

describe('declared transitions', () => {
  it('lists products.soldCount with its own migrations and a registered backfill task', () => {
    expect(transitionDefinitions.map((d) => d.name)).toContain('products.soldCount');
    for (const definition of transitionDefinitions) {
      expect(jobTasks.has(definition.backfill.task)).toBe(true);
      if (definition.contract !== undefined) expect(definition.contract > definition.expand).toBe(true);
    }
  });
});

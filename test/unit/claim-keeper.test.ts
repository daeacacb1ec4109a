/**
 * The claim keeper (src/idempotency/claim-keeper.ts) on a fake clock and a
 * fake renewal: no statement at all while no keyed request is in flight, one
 * statement per tick for every claim in flight, failures told once per run
 * of failures, no overlapping renewals, nothing after `close`, and renewals
 * outside the context of the request that started the timer; the scale drill
 * (.ci/drill.mjs) waits for the same lease.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';

import { CLAIM_RENEW_EVERY_MS, createClaimKeeper, type KeeperClock } from '../../src/idempotency/claim-keeper.js';
import { IDEMPOTENCY_LOCK_MS, type Claim } from '../../src/idempotency/idempotency.service.js';
import { projectRoot } from '../../src/util/project-root.js';

/** Timers that fire only when the test moves the clock. */
class FakeClock implements KeeperClock {
  private time = 0;
  private nextId = 1;
  readonly timers = new Map<number, { at: number; run: () => void }>();

  now(): number {
    return this.time;
  }

  setTimer(run: () => void, ms: number): unknown {
    const id = this.nextId;
    this.nextId += 1;
    this.timers.set(id, { at: this.time + ms, run });
    return id;
  }

  clearTimer(timer: unknown): void {
    this.timers.delete(timer as number);
  }

  /** Moves the clock by `ms`, firing each timer due on the way and letting the promises it starts settle. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].run();
      await settle();
    }
    this.time = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await turn();
}

function claim(n: number): Claim {
  return { principal: `user-${n}`, credential: `session:${n}`, key: `key-${n}`, fingerprint: 'f', claimId: `00000000-0000-4000-8000-00000000000${n}` };
}

/** A renewal that records each statement (the claims it names) and answers as told. */
function fakeRenewal(answer: () => Promise<unknown> = async () => 1) {
  const statements: string[][] = [];
  const renew = (claims: readonly Claim[]) => {
    statements.push(claims.map((c) => c.key).sort());
    return answer();
  };
  return { statements, renew };
}

describe('the claim keeper', () => {
  it('runs no statement and keeps no timer while no claim is held', async () => {
    const clock = new FakeClock();
    const { statements, renew } = fakeRenewal();
    const keeper = createClaimKeeper(renew, { clock });
    await clock.advance(10 * CLAIM_RENEW_EVERY_MS);
    expect(statements).toEqual([]);
    expect(clock.timers.size).toBe(0);

    // A request shorter than a tick: its claim is let go before any renewal is due.
    keeper.hold(claim(1));
    expect(clock.timers.size).toBe(1);
    await clock.advance(CLAIM_RENEW_EVERY_MS - 1);
    keeper.letGo(claim(1));
    expect(clock.timers.size).toBe(0);
    await clock.advance(10 * CLAIM_RENEW_EVERY_MS);
    expect(statements).toEqual([]);
    expect(keeper.held).toBe(0);
  });

  it('renews every claim in flight with one statement per tick, and stops when the last is let go', async () => {
    const clock = new FakeClock();
    const { statements, renew } = fakeRenewal();
    const keeper = createClaimKeeper(renew, { clock });
    const [a, b, c] = [claim(1), claim(2), claim(3)];
    keeper.hold(a);
    await clock.advance(1_000);
    keeper.hold(b);
    keeper.hold(c);
    await clock.advance(CLAIM_RENEW_EVERY_MS - 1_000);
    expect(statements).toEqual([['key-1', 'key-2', 'key-3']]);

    keeper.letGo(b);
    await clock.advance(CLAIM_RENEW_EVERY_MS);
    expect(statements).toEqual([['key-1', 'key-2', 'key-3'], ['key-1', 'key-3']]);

    keeper.letGo(a);
    keeper.letGo(c);
    keeper.letGo(c);
    expect(clock.timers.size).toBe(0);
    await clock.advance(10 * CLAIM_RENEW_EVERY_MS);
    expect(statements).toHaveLength(2);
  });

  it('keeps renewing a claim held far longer than the lease', async () => {
    const clock = new FakeClock();
    const { statements, renew } = fakeRenewal();
    const keeper = createClaimKeeper(renew, { clock });
    keeper.hold(claim(1));
    await clock.advance(12 * CLAIM_RENEW_EVERY_MS);
    expect(statements).toHaveLength(12);
    keeper.close();
  });

  it('tells a run of failing renewals once, and again only after one has succeeded', async () => {
    const clock = new FakeClock();
    let down = true;
    const { statements, renew } = fakeRenewal(async () => {
      if (down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return 1;
    });
    const told: Array<{ message: string; claims: number }> = [];
    const keeper = createClaimKeeper(renew, { clock, onFailing: (error, claims) => told.push({ message: (error as Error).message, claims }) });
    keeper.hold(claim(1));
    keeper.hold(claim(2));
    await clock.advance(4 * CLAIM_RENEW_EVERY_MS);
    expect(statements).toHaveLength(4);
    expect(told).toEqual([{ message: 'connect ECONNREFUSED', claims: 2 }]);

    down = false;
    await clock.advance(2 * CLAIM_RENEW_EVERY_MS);
    down = true;
    await clock.advance(3 * CLAIM_RENEW_EVERY_MS);
    expect(statements).toHaveLength(9);
    expect(told).toHaveLength(2);
    keeper.close();
  });

  it('never runs two renewals at once: the next is due a tick after the slow one started, or when it ends', async () => {
    const clock = new FakeClock();
    let finish: () => void = () => undefined;
    const { statements, renew } = fakeRenewal(() => new Promise<void>((resolve) => (finish = resolve)));
    const keeper = createClaimKeeper(renew, { clock });
    keeper.hold(claim(1));
    await clock.advance(CLAIM_RENEW_EVERY_MS);
    expect(statements).toHaveLength(1);
    keeper.hold(claim(2));
    await clock.advance(3 * CLAIM_RENEW_EVERY_MS);
    expect(statements).toHaveLength(1);
    expect(clock.timers.size).toBe(0);
    finish();
    await settle();
    // Overdue: at once.
    await clock.advance(0);
    expect(statements).toEqual([['key-1'], ['key-1', 'key-2']]);
    finish();
    await settle();
    await clock.advance(CLAIM_RENEW_EVERY_MS - 1);
    expect(statements).toHaveLength(2);
    await clock.advance(1);
    expect(statements).toHaveLength(3);
    keeper.close();
  });

  it('stops for good on close: no timer, no statement, later claims ignored', async () => {
    const clock = new FakeClock();
    const { statements, renew } = fakeRenewal();
    const keeper = createClaimKeeper(renew, { clock });
    keeper.hold(claim(1));
    await clock.advance(CLAIM_RENEW_EVERY_MS);
    keeper.close();
    expect(clock.timers.size).toBe(0);
    keeper.hold(claim(2));
    expect(keeper.held).toBe(0);
    await clock.advance(10 * CLAIM_RENEW_EVERY_MS);
    expect(statements).toEqual([['key-1']]);
  });

  it('renews outside the context of the request that started the timer (its pool share, its trace)', async () => {
    const request = new AsyncLocalStorage<string>();
    const clock = new FakeClock();
    const seen: Array<string | undefined> = [];
    const keeper = createClaimKeeper(
      async () => {
        seen.push(request.getStore());
      },
      { clock },
    );
    request.run('request-1', () => keeper.hold(claim(1)));
    await request.run('request-2', () => clock.advance(2 * CLAIM_RENEW_EVERY_MS));
    expect(seen).toEqual([undefined, undefined]);
    keeper.close();
  });

  it('renews three times per lease, and the scale drill waits for that lease', () => {
    expect(IDEMPOTENCY_LOCK_MS).toBe(3 * CLAIM_RENEW_EVERY_MS);
    const drill = readFileSync(path.join(projectRoot(), '.ci', 'drill.mjs'), 'utf8');
    expect(/const CLAIM_LOCK_MS = ([\d_]+);/.exec(drill)?.[1]?.replaceAll('_', '')).toBe(String(IDEMPOTENCY_LOCK_MS));
  });
});

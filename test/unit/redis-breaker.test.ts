/**
 * The Redis circuit breaker's state machine (src/redis/breaker.ts), with a
 * probe the test answers; the client wiring is covered over HTTP in
 * test/redis-breaker.test.ts.
 */
import { describe, expect, it } from '@jest/globals';

import { CircuitBreaker, type BreakerChange } from '../../src/redis/breaker.js';

function setUp(probeIntervalMs = 60_000) {
  const probe = { connected: true, answers: false, pings: 0 };
  const breaker = new CircuitBreaker(
    { probeIntervalMs, probeTimeoutMs: 50 },
    {
      canProbe: () => probe.connected,
      ping: async () => {
        probe.pings += 1;
        if (!probe.answers) throw new Error('no answer');
      },
    },
  );
  const changes: BreakerChange[] = [];
  breaker.onChange((change) => changes.push(change));
  return { breaker, probe, changes };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('Redis circuit breaker', () => {
  it('opens once on the first trip, however many follow', () => {
    const { breaker, changes } = setUp();
    expect(breaker.state).toBe('closed');
    breaker.trip('timeout', new Error('Command timed out'));
    breaker.trip('timeout');
    breaker.trip('connection');
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([{ state: 'open', reason: 'timeout', error: new Error('Command timed out') }]);
    breaker.stop();
  });

  it('closes only when a probe is answered, reporting how long it was open and what it skipped', async () => {
    const { breaker, probe, changes } = setUp();
    breaker.trip('connection');
    breaker.skippedCommand();
    breaker.skippedCommand();
    breaker.probeNow();
    await settle();
    expect(breaker.state).toBe('open');
    probe.answers = true;
    probe.connected = false;
    breaker.probeNow();
    await settle();
    // No connection, no probe.
    expect([breaker.state, probe.pings]).toEqual(['open', 1]);
    probe.connected = true;
    breaker.probeNow();
    await settle();
    expect(breaker.state).toBe('closed');
    expect(changes[1]).toMatchObject({ state: 'closed', skippedCommands: 2 });
    expect(changes[1]?.openForMs).toBeGreaterThanOrEqual(0);
  });

  it('sends one probe at a time', async () => {
    const { breaker, probe } = setUp();
    breaker.trip('timeout');
    breaker.probeNow();
    breaker.probeNow();
    breaker.probeNow();
    expect(probe.pings).toBe(1);
    await settle();
    breaker.stop();
  });

  it('probes on its own every interval while open, and stops when closed', async () => {
    const { breaker, probe } = setUp(20);
    breaker.trip('timeout');
    const deadline = Date.now() + 10_000;
    while (probe.pings < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(probe.pings).toBeGreaterThanOrEqual(3);
    probe.answers = true;
    while (breaker.state === 'open' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(breaker.state).toBe('closed');
    const pings = probe.pings;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(probe.pings).toBe(pings);
  });

  it('changes no more once stopped (a client closed on purpose is no outage)', () => {
    const { breaker, changes } = setUp();
    breaker.stop();
    breaker.trip('connection');
    expect([breaker.state, changes]).toEqual(['closed', []]);
  });
});

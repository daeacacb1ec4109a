/** Crontab lines of the modules (src/jobs/schedules.ts): graphile-worker's syntax, with our `<module>.<verb>` task names. */
import { describe, expect, it } from '@jest/globals';

import { parseSchedules, scheduledTask } from '../../src/jobs/schedules.js';
import { loadConfig } from '../../src/config/config.js';
import { jobSchedules, jobTasks } from '../../src/modules/registry.js';
import { systemSchedules, systemTasks } from '../../src/jobs/system-tasks.js';

describe('parseSchedules', () => {
  it('keeps a dotted task name, its options and its payload', () => {
    const [item] = parseSchedules(['*/5 * * * * orders.expirePayment ?max=3&queue=expiry {"dryRun":false}']);
    expect(item).toMatchObject({ task: 'orders.expirePayment', identifier: 'orders.expirePayment', options: { maxAttempts: 3, queueName: 'expiry' }, payload: { dryRun: false } });
  });

  it('keeps an explicit identifier', () => {
    expect(parseSchedules(['0 4 * * * accounts.purgeSessions ?id=nightly'])[0]?.identifier).toBe('nightly');
  });

  it('refuses a line without five time fields or with a task not named <module>.<verb>', () => {
    expect(() => parseSchedules(['* * * * accounts.purgeSessions'])).toThrow('expected five time fields');
    expect(() => parseSchedules(['* * * * * purgeSessions'])).toThrow('<module>.<verb>');
    expect(() => parseSchedules(['* * * * * accounts:purge.sessions'])).toThrow('<module>.<verb>');
  });
});

describe('the declared tasks and schedules', () => {
  it('name only tasks that exist, and every schedule parses', () => {
    const tasks = new Set([...jobTasks.keys(), ...systemTasks.keys()]);
    const schedules = [...jobSchedules(loadConfig({ NODE_ENV: 'test', ORDER_PAYMENT_TTL_MINUTES: '45' })), ...systemSchedules];
    for (const line of schedules) expect(tasks.has(scheduledTask(line) ?? '')).toBe(true);
    expect(parseSchedules(schedules).map((item) => item.task)).toEqual(expect.arrayContaining(['accounts.purgeSessions', 'idempotency.purgeKeys', 'orders.expirePayments']));
    // The payment expiry runs every minute with the configured TTL in its payload.
    expect(parseSchedules(schedules).find((item) => item.task === 'orders.expirePayments')?.payload).toEqual({ ttlMinutes: 45 });
  });
});

import { countDatabaseOutage } from '../observability/metrics.js';
import { describeDatabaseError } from './faults.js';

/**
 * Whether a pool's database answers, told once per outage: one warning when
 * it goes away, one info line when it is back, and counters (db_errors_total,
 * db_outages_total, db_available in /metrics) for everything in between, so
 * that a restart or failover does not write a line per failed request.
 *
 * - An outage starts with the first lost connection or failed connection
 *   attempt while the database was available.
 * - It ends with the first statement that succeeds among those started after
 *   it began: statements already running when it began do not count, so
 *   answers still trickling in from before do not end it early.
 * - Connections opened before an outage began that die after it ended (idle
 *   connections found dead by the next checkout) are leftovers of that
 *   outage: counted, but they do not start a new one.
 */
/** Where outages are told (a pino logger fits). */
export interface OutageLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/** The two lines of an outage. */
export interface OutageMessages {
  down: string;
  up: string;
}

const PRIMARY_MESSAGES: OutageMessages = { down: 'database unavailable: answering 503 until it is back', up: 'database available again' };

export class DatabaseAvailability {
  private outages = 0;
  private outage: { startedAt: number; failures: number } | undefined;

  constructor(
    private readonly log: OutageLog | undefined,
    private readonly now: () => number = Date.now,
    private readonly messages: OutageMessages = PRIMARY_MESSAGES,
  ) {}

  get available(): boolean {
    return this.outage === undefined;
  }

  /** Stamp of a connection opened now, for `failed`. */
  get generation(): number {
    return this.outages;
  }

  /** Stamp of a statement starting now, for `succeeded`. */
  ticket(): number {
    return this.outage ? this.outages : -1;
  }

  /**
   * A connection attempt failed (no `generation`), or a connection opened
   * at `generation` was lost.
   */
  failed(error: unknown, generation?: number): void {
    if (this.outage) {
      this.outage.failures += 1;
      return;
    }
    if (generation !== undefined && generation < this.outages) return;
    this.outages += 1;
    this.outage = { startedAt: this.now(), failures: 1 };
    countDatabaseOutage();
    this.log?.warn({ db: describeDatabaseError(error) }, this.messages.down);
  }

  /** A statement that started with `ticket` succeeded. */
  succeeded(ticket: number): void {
    if (!this.outage || ticket !== this.outages) return;
    const { startedAt, failures } = this.outage;
    this.outage = undefined;
    this.log?.info({ downMs: this.now() - startedAt, failures }, this.messages.up);
  }
}

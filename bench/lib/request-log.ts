/**
 * An in-memory pino destination that keeps the one "request completed" line
 * the application logs per request (src/app.ts, onResponse), by request id.
 * The benchmark sends its own X-Request-Id, so it can read the statement
 * count, SQL time and server-side duration of every request it timed.
 *
 * The line is written in onResponse, i.e. after the response has been sent:
 * a client can see the response before the line exists, so `take` waits.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

import { baseLoggerOptions } from '../../src/observability/logger.js';

export interface CompletedLine {
  requestId: string;
  status: number;
  durationMs: number;
  sqlCount: number;
  sqlMs: number;
  errorCodes: string[];
}

const PINO_ERROR_LEVEL = 50;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class RequestLog {
  private readonly lines = new Map<string, CompletedLine>();
  private readonly waiters = new Map<string, (line: CompletedLine) => void>();
  /** Messages of log lines at error level or above (unexpected errors in the app). */
  readonly errors: string[] = [];

  /** Where pino writes: synchronously, one or more JSON lines per call. */
  readonly destination: DestinationStream = {
    write: (chunk: string) => {
      for (const text of chunk.split('\n')) if (text.trim() !== '') this.ingest(text);
    },
  };

  /** A logger like the application's (same options), at info level, writing here. */
  createLogger(): Logger {
    return pino(baseLoggerOptions('info'), this.destination);
  }

  private ingest(text: string): void {
    // Only the lines the benchmark reads are parsed.
    const relevant = text.includes('"request completed"') || /"level":\s*(5\d|60)/.test(text);
    if (!relevant) return;
    const parsed: unknown = JSON.parse(text);
    if (!isRecord(parsed)) return;
    if (typeof parsed['level'] === 'number' && parsed['level'] >= PINO_ERROR_LEVEL) {
      this.errors.push(typeof parsed['msg'] === 'string' ? parsed['msg'] : text.slice(0, 200));
    }
    if (parsed['msg'] !== 'request completed' || typeof parsed['requestId'] !== 'string') return;
    const line: CompletedLine = {
      requestId: parsed['requestId'],
      status: typeof parsed['status'] === 'number' ? parsed['status'] : 0,
      durationMs: typeof parsed['durationMs'] === 'number' ? parsed['durationMs'] : Number.NaN,
      sqlCount: typeof parsed['sqlCount'] === 'number' ? parsed['sqlCount'] : Number.NaN,
      sqlMs: typeof parsed['sqlMs'] === 'number' ? parsed['sqlMs'] : Number.NaN,
      errorCodes: Array.isArray(parsed['errorCodes'])
        ? parsed['errorCodes'].filter((c): c is string => typeof c === 'string')
        : [],
    };
    const waiter = this.waiters.get(line.requestId);
    if (waiter) {
      this.waiters.delete(line.requestId);
      waiter(line);
    } else {
      this.lines.set(line.requestId, line);
    }
  }

  /** The line of this request (removed from memory once taken); waits up to `timeoutMs` for it. */
  take(requestId: string, timeoutMs = 5_000): Promise<CompletedLine> {
    const line = this.lines.get(requestId);
    if (line) {
      this.lines.delete(requestId);
      return Promise.resolve(line);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(requestId);
        reject(new Error(`no "request completed" log line for request ${requestId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(requestId, (found) => {
        clearTimeout(timer);
        resolve(found);
      });
    });
  }

  takeAll(requestIds: readonly string[]): Promise<CompletedLine[]> {
    return Promise.all(requestIds.map((id) => this.take(id)));
  }

  /** Forgets lines nobody will read (warm-up requests). */
  clear(): void {
    this.lines.clear();
  }
}

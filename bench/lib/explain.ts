/**
 * SQL-only comparison of a deep page read with OFFSET and with a keyset
 * condition, through EXPLAIN (ANALYZE, FORMAT JSON): PostgreSQL's own
 * execution time and how many rows the scan had to produce.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';

import type { Database } from '../../src/db/database.js';
import { median, round } from './stats.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

interface ExplainOutput {
  Plan: PlanNode;
  'Planning Time': number;
  'Execution Time': number;
}

export interface ExplainResult {
  label: string;
  sql: string;
  /** Median of the runs, milliseconds. */
  executionMs: number;
  planningMs: number;
  runs: number;
  /** Node types from the top of the plan down, e.g. "Limit > Index Scan Backward (products_visible_created_idx)". */
  plan: string;
  /** Rows produced by the plan's scan nodes (actual rows x loops): the work the database did. */
  rowsScanned: number;
  /** Rows returned by the statement. */
  rowsReturned: number;
}

/** The public catalogue's default order (CREATED_AT DESC) and visibility, as the API writes them. */
const COLUMNS = sql`p.id, p.seller_id, p.category_id, p.title, p.description, p.price_amount, p.currency, p.stock,
  p.status, p.version, p.rating_avg, p.review_count, p.created_at, p.updated_at, p.deleted_at, p.created_at::text AS cursor_key`;
const VISIBLE = sql`p.status = 'ACTIVE' AND p.deleted_at IS NULL`;

export function offsetPage(offset: number, limit: number): RawBuilder<unknown> {
  return sql`SELECT ${COLUMNS} FROM products AS p WHERE ${VISIBLE}
    ORDER BY p.created_at DESC, p.id DESC OFFSET ${offset} LIMIT ${limit}`;
}

export function keysetPage(after: { key: string; id: string }, limit: number): RawBuilder<unknown> {
  return sql`SELECT ${COLUMNS} FROM products AS p WHERE ${VISIBLE}
    AND (p.created_at, p.id) < (${after.key}::timestamptz, ${after.id}::uuid)
    ORDER BY p.created_at DESC, p.id DESC LIMIT ${limit}`;
}

function isExplainOutput(value: unknown): value is ExplainOutput {
  return typeof value === 'object' && value !== null && 'Plan' in value && 'Execution Time' in value;
}

function describePlan(node: PlanNode): string {
  const name = node['Index Name'] ? `${node['Node Type']} (${node['Index Name']})` : node['Node Type'];
  const children = node.Plans ?? [];
  // Follow the first child: the row source (a Limit's input, a Sort's input).
  return children[0] ? `${name} > ${describePlan(children[0])}` : name;
}

function scannedRows(node: PlanNode): number {
  const own = node['Node Type'].includes('Scan') ? node['Actual Rows'] * node['Actual Loops'] : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + scannedRows(child), 0);
}

async function explainOnce(db: Kysely<Database>, query: RawBuilder<unknown>): Promise<ExplainOutput> {
  const { rows } = await sql<{ 'QUERY PLAN': unknown }>`EXPLAIN (ANALYZE, FORMAT JSON) ${query}`.execute(db);
  // pg parses the json column: an array with one plan.
  const plan: unknown = rows[0]?.['QUERY PLAN'];
  const first: unknown = Array.isArray(plan) ? (plan as unknown[])[0] : undefined;
  if (!isExplainOutput(first)) throw new Error(`unexpected EXPLAIN output: ${JSON.stringify(plan).slice(0, 300)}`);
  return first;
}

/**
 * Runs each query `runs` times, interleaved, after one unmeasured run each,
 * and reports the median execution and planning times.
 */
export async function explainCompare(
  db: Kysely<Database>,
  queries: readonly { label: string; query: RawBuilder<unknown> }[],
  runs: number,
): Promise<ExplainResult[]> {
  for (const { query } of queries) await explainOnce(db, query);
  const samples = queries.map(() => ({ execution: [] as number[], planning: [] as number[], last: undefined as ExplainOutput | undefined }));
  for (let run = 0; run < runs; run += 1) {
    for (const [index, { query }] of queries.entries()) {
      const output = await explainOnce(db, query);
      const own = samples[index];
      if (!own) continue;
      own.execution.push(output['Execution Time']);
      own.planning.push(output['Planning Time']);
      own.last = output;
    }
  }
  return queries.map(({ label, query }, index) => {
    const own = samples[index];
    const last = own?.last;
    if (!own || !last) throw new Error(`no EXPLAIN output for ${label}`);
    return {
      label,
      sql: query.compile(db).sql.replace(/\s+/g, ' ').trim(),
      executionMs: round(median(own.execution), 3),
      planningMs: round(median(own.planning), 3),
      runs,
      plan: describePlan(last.Plan),
      rowsScanned: scannedRows(last.Plan),
      rowsReturned: last.Plan['Actual Rows'],
    };
  });
}

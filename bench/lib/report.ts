/** The benchmark's results: their JSON shape and the plain-text table printed to stdout. */
import type { ExplainResult } from './explain.js';
import type { VariantResult } from './measure.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Ratio {
  name: string;
  /** numerator / denominator, rounded to 3 digits. */
  value: number;
  /** How to read it, e.g. "1.00 = no overhead; above 1 = slower with shield". */
  reading: string;
  /**
   * For p50 ratios: the lowest and highest value of the same ratio computed
   * on each fifth of the run (the variants run interleaved), a gauge of noise.
   */
  blocks?: { min: number; max: number };
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** What property the scenario demonstrates. */
  shows: string;
  variants: VariantResult[];
  ratios: Ratio[];
  checks: Check[];
  notes: string[];
  /** Scenario c: the SQL-only OFFSET vs keyset comparison. */
  sql?: ExplainResult[];
}

export interface BenchResults {
  generatedAt: string;
  durationSeconds: number;
  environment: {
    node: string;
    platform: string;
    cpus: number;
    cpuModel: string;
    database: string;
    postgres: string;
  };
  parameters: Record<string, number>;
  seed: { products: number; visibleProducts: number; categories: number; sellers: number; customers: number; reviews: number };
  scenarios: ScenarioResult[];
  warnings: string[];
}

const fmt = (value: number | null, digits = 2): string =>
  value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function variantTable(variants: VariantResult[]): string {
  return table(
    ['variant', 'mode', 'n', 'p50 ms', 'p95 ms', 'req/s', 'server p50', 'SQL/req', 'SQL ms sum p50'],
    variants.map((v) => [
      v.label,
      v.mode === 'sequential' ? 'sequential' : `${v.concurrency} in flight`,
      String(v.requests),
      fmt(v.latencyMs.p50),
      fmt(v.latencyMs.p95),
      fmt(v.throughputRps, 1),
      fmt(v.serverMs.p50),
      v.sqlCount === null ? v.sqlCounts.join('|') : String(v.sqlCount),
      fmt(v.sqlMsP50),
    ]),
  );
}

function explainTable(rows: ExplainResult[]): string {
  return table(
    ['SQL (EXPLAIN ANALYZE)', 'exec ms p50', 'plan ms p50', 'rows scanned', 'rows', 'plan'],
    rows.map((r) => [r.label, fmt(r.executionMs, 3), fmt(r.planningMs, 3), String(r.rowsScanned), String(r.rowsReturned), r.plan]),
  );
}

export function renderText(results: BenchResults): string {
  const out: string[] = [];
  const env = results.environment;
  out.push(
    `marketplace-api benchmark, ${results.generatedAt}`,
    `node ${env.node} on ${env.platform}, ${env.cpus} CPUs (${env.cpuModel}); ${env.postgres}`,
    `database: ${env.database}`,
    `catalogue: ${results.seed.products} products (${results.seed.visibleProducts} publicly visible), ${results.seed.categories} categories, ` +
      `${results.seed.sellers} sellers, ${results.seed.customers} customers, ${results.seed.reviews} reviews`,
    `latencies are client-side (request sent to response read, same process as the servers); ratios compare variants measured interleaved`,
  );
  for (const scenario of results.scenarios) {
    out.push('', `== ${scenario.id}. ${scenario.title} ==`, scenario.shows, '');
    if (scenario.variants.length > 0) out.push(variantTable(scenario.variants), '');
    if (scenario.sql) out.push('SQL only, not through the API:', explainTable(scenario.sql), '');
    for (const ratio of scenario.ratios) {
      const spread = ratio.blocks ? ` [per fifth of the run ${fmt(ratio.blocks.min, 2)}..${fmt(ratio.blocks.max, 2)}]` : '';
      out.push(`  ratio  ${ratio.name} = ${fmt(ratio.value, 3)}${spread}   (${ratio.reading})`);
    }
    for (const check of scenario.checks) out.push(`  ${check.ok ? 'ok     ' : 'WARNING'} ${check.name}: ${check.detail}`);
    for (const note of scenario.notes) out.push(`  note   ${note}`);
  }
  out.push('');
  if (results.warnings.length === 0) out.push('no warnings');
  else for (const warning of results.warnings) out.push(`WARNING: ${warning}`);
  out.push(`finished in ${results.durationSeconds.toFixed(1)} s`);
  return out.join('\n');
}

import { performance } from 'node:perf_hooks';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';

/** What one HTTP request did, for its log line. Filled by the GraphQL layer and the SQL plugin. */
export class RequestStats {
  sqlCount = 0;
  sqlMs = 0;
  operationName: string | undefined;
  errorCodes: string[] = [];
  /** How the shared response cache answered (src/cache/): undefined when it is off or the route has none. */
  responseCache: 'hit' | 'miss' | 'bypass' | undefined;
}

/**
 * Counts the statements a request runs and their total time. It is attached
 * per request with `db.withPlugin(...)`, so no global state is involved.
 *
 * Kysely also runs `transformQuery` for every subquery builder, so a
 * statement is counted when its result arrives (once per round trip); its
 * time runs from when Kysely prepared it, pool wait included. A statement
 * that fails is not counted: the request's error is logged instead.
 */
export class SqlStatsPlugin implements KyselyPlugin {
  private readonly started = new WeakMap<object, number>();

  constructor(private readonly stats: RequestStats) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.started.set(args.queryId, performance.now());
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    this.stats.sqlCount += 1;
    const start = this.started.get(args.queryId);
    if (start !== undefined) this.stats.sqlMs += performance.now() - start;
    return args.result;
  }
}

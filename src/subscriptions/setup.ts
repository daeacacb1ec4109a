/**
 * Live updates, assembled: the change channel between instances
 * (LISTEN/NOTIFY), the local hub, the operations runner and the two
 * transports. src/app.ts builds it; the request pipeline registers its
 * routes (src/http/pipeline.ts, stage `live updates`).
 */
import websocketPlugin from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { Kysely } from 'kysely';

import type { OperationAuthorizer } from '../authz/operation-authorization.js';
import type { AuthRuntime } from '../auth/runtime.js';
import type { Config } from '../config/config.js';
import { poolOf } from '../db/connection.js';
import type { Database } from '../db/database.js';
import type { CostLimiter } from '../limits/cost-limiter.js';
import type { TrustedDocuments } from '../limits/trusted-documents.js';
import { requestError } from '../errors/errors.js';
import { createLoaders, type AppLoaders } from '../modules/registry.js';
import type { TransitionStates } from '../transitions/phases.js';
import type { Change, ChangeFeed } from '../scope/change-feed.js';
import type { ScopeDeps, ScopeLogger } from '../scope/scope.js';
import { ChangeChannel } from './channel.js';
import { LiveConnections } from './connections.js';
import { LiveHub } from './hub.js';
import { liveMetrics } from './metrics.js';
import { LiveOperations } from './operations.js';
import { registerSseRoute } from './sse.js';
import { webSocketHandler } from './ws.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Live updates of this instance (its change channel, connections and open streams). */
    live: LiveUpdates;
  }
}

export interface LiveUpdatesOptions {
  config: Config;
  db: Kysely<Database>;
  /** Where the listening connection goes when not to the pool's own server (DATABASE_DIRECT_URL behind a transaction pooler). */
  listenUrl?: string;
  auth: AuthRuntime;
  schema: GraphQLSchema;
  authorizeOperation: OperationAuthorizer | undefined;
  log: ScopeLogger;
  /** Other feeds that hear every committed change on this instance (the response cache). */
  feeds: readonly ChangeFeed[];
  /** Trusted-documents mode: only listed documents subscribe. */
  trusted?: TrustedDocuments;
  /** The query-cost budgets, charged once per subscribe. */
  limiter?: CostLimiter;
  /** The phases of the schema changes made in phases (src/transitions/): what the events' reads read. */
  transitions: TransitionStates;
}

/** Every feed, in order: each hears the committed changes once. */
function allFeeds(feeds: readonly ChangeFeed[]): ChangeFeed {
  return {
    async publish(changes: readonly Change[]) {
      for (const feed of feeds) await feed.publish(changes);
    },
  };
}

export class LiveUpdates {
  readonly channel: ChangeChannel;
  /** What units of work report their committed changes to: the other feeds, then the channel to every instance. */
  readonly changes: ChangeFeed;
  readonly connections: LiveConnections;
  private readonly hub: LiveHub;
  private readonly options: LiveUpdatesOptions;
  private operations: LiveOperations | undefined;
  /** The `wsHandler` of GET /graphql, once `register` ran. */
  wsHandler: ReturnType<typeof webSocketHandler> | undefined;

  constructor(options: LiveUpdatesOptions) {
    this.options = options;
    const { config, db, log } = options;
    this.hub = new LiveHub(config.subscriptions.bufferEvents, { dropped: (entity) => liveMetrics.dropped.inc({ entity }) });
    const pool = poolOf(db);
    if (!pool) throw new Error('live updates need the pg pool behind the Kysely instance');
    this.channel = new ChangeChannel({
      db,
      connection: options.listenUrl === undefined ? pool.options : { connectionString: options.listenUrl },
      log,
      onChanges: (changes) => this.hub.deliver(changes),
      onListening: (up) => liveMetrics.listening.set(up ? 1 : 0),
    });
    this.changes = allFeeds([...options.feeds, this.channel]);
    this.connections = new LiveConnections(config.subscriptions.maxConnectionsPerIp);
  }

  /** Change streams open on this instance: one per subscription once it listens. */
  get streams(): number {
    return this.hub.size;
  }

  /** The scope dependencies (with the complete change feed) every scope of the application shares. */
  operationsFor(deps: ScopeDeps<AppLoaders>, knownDirectives: ReadonlySet<string>): LiveOperations {
    const { config, schema, authorizeOperation, log } = this.options;
    this.operations ??= new LiveOperations({
      schema,
      authorizeOperation,
      deps,
      log,
      hub: this.hub,
      queryLimits: config.queryLimits,
      limits: { perConnection: config.subscriptions.maxPerConnection, perUser: config.subscriptions.maxPerUser },
      knownDirectives,
      introspection: config.graphqlIntrospection,
      ...(this.options.trusted ? { trusted: this.options.trusted } : {}),
      ...(this.options.limiter ? { limiter: this.options.limiter } : {}),
    });
    return this.operations;
  }

  /**
   * Registers @fastify/websocket (before the GraphQL route, whose GET takes
   * the returned `wsHandler`), the per-IP cap on upgrades, and the SSE route.
   */
  async register(app: FastifyInstance, knownDirectives: ReadonlySet<string>): Promise<void> {
    const { config, db, auth, transitions } = this.options;
    const operations = this.operationsFor({ db, auth, createLoaders, transitions, changes: this.changes }, knownDirectives);
    app.decorate('live', this as LiveUpdates);
    // app.close() without the drain (tests, start-up failures): the streams end and sockets close with 1001 too.
    app.addHook('preClose', async () => this.connections.shutdown(Date.now() + 1_000));
    await app.register(websocketPlugin, { options: { maxPayload: config.subscriptions.maxMessageBytes } });
    app.addHook('onRequest', async (request, reply) => {
      if (!request.ws || this.connections.mayOpen(request.ip)) return undefined;
      request.stats.errorCodes = ['SUBSCRIPTION_LIMIT_REACHED'];
      return reply.code(429).send(requestError('SUBSCRIPTION_LIMIT_REACHED', request.id, 'Too many live connections from this address.'));
    });
    registerSseRoute(app, { operations, connections: this.connections });
    // SIGTERM: once the listener has closed, streams end after their event in flight, then sockets close with 1001.
    app.drain.onListenerClosed((deadline) => this.connections.shutdown(deadline));
    await this.channel.start();
    this.wsHandler = webSocketHandler({ operations, connections: this.connections, keepAliveMs: config.subscriptions.keepAliveMs, connectionInitTimeoutMs: 10_000, maxBufferedBytes: config.subscriptions.maxBufferedBytes });
  }

  /** Last, after every connection ended: the LISTEN connection. */
  async close(): Promise<void> {
    await this.channel.close();
  }
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Kind, OperationTypeNode, parse, type DocumentNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import type { Kysely } from 'kysely';

import { beginUnit, type OpenUnit } from '../db/unit-of-work.js';
import type { Database } from '../db/database.js';
import { requestError } from '../errors/errors.js';
import type { ErrorCode } from '../errors/codes.js';
import { errorCodes } from '../errors/codes.js';
import type { AppLoaders } from '../modules/registry.js';
import { requestFingerprint } from './fingerprint.js';
import { claimKey, purgeExpiredKeys, releaseKey, storeResponse, type Claim } from './idempotency.service.js';

/**
 * Idempotency keys at the HTTP edge (docs/ARCHITECTURE.md, "Idempotency keys").
 *
 * For a POST whose operation is a mutation and that carries `Idempotency-Key`:
 * 1. preHandler (after authentication): the key is claimed IN_PROGRESS for
 *    (user, key) with the request's fingerprint, in its own committed
 *    statement, or the request is answered at once: the stored response
 *    replayed (`Idempotent-Replayed: true`), 422 for another fingerprint, 409
 *    while the first runs. Then the edge opens the outermost unit of work and
 *    the whole GraphQL execution runs in it: every service joins it.
 * 2. onSend: the exact bytes about to be sent are stored on the claim in that
 *    unit, and the unit commits: the writes and the stored response commit
 *    together or not at all. A server error (5xx, or an
 *    INTERNAL_SERVER_ERROR / SERVICE_UNAVAILABLE anywhere in the body) or a
 *    refusal before execution (4xx) rolls back and frees the key instead.
 *
 * A document with several mutation fields and a key is one unit: all of its
 * fields commit together with the one stored response, or none do.
 */

/** Mutations that refuse to run without a key (money and stock move). */
export const KEY_REQUIRED_MUTATIONS: ReadonlySet<string> = new Set(['checkout', 'markOrderPaid', 'refundOrder']);

/** 1 to 255 printable ASCII characters (space included, other control characters not). */
const KEY_FORMAT = /^[\x20-\x7e]{1,255}$/;
const PURGE_INTERVAL_MS = 3600 * 1000;
/**
 * Error codes after which the response is not stored and the key is freed:
 * the server failed, or (a persisted document evicted between the key's
 * claim and execution) nothing ran and the client must send the document.
 */
const SERVER_FAILURES = new Set<string>(['INTERNAL_SERVER_ERROR', 'SERVICE_UNAVAILABLE', 'PERSISTED_QUERY_NOT_FOUND']);

interface KeyedRequest {
  claim: Claim;
  unit: OpenUnit<AppLoaders>;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: KeyedRequest | undefined;
  }
}

interface GraphQLBody {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: unknown;
}

interface ResolvedDocument {
  text: string;
  document: DocumentNode;
  operation: OperationDefinitionNode;
}

/** Looks up the document of a hash-only (persisted or trusted) request; `undefined` when unknown. */
export type DocumentByHash = (sha256Hash: string) => Promise<string | undefined>;

function persistedHash(body: GraphQLBody): string | undefined {
  const extensions = body.extensions;
  if (typeof extensions !== 'object' || extensions === null) return undefined;
  const persisted = (extensions as { persistedQuery?: unknown }).persistedQuery;
  if (typeof persisted !== 'object' || persisted === null) return undefined;
  const hash = (persisted as { sha256Hash?: unknown }).sha256Hash;
  return typeof hash === 'string' ? hash : undefined;
}

/**
 * The mutation a POST body will run, whether it carries the text or only a
 * persisted hash; `null` when it runs no mutation, or nothing at all (Apollo
 * answers: a parse error, an unknown hash). A document whose text does not
 * contain `mutation` cannot hold one, so queries (nearly every request) are
 * not parsed here a second time.
 */
async function mutationOf(body: GraphQLBody, documentByHash: DocumentByHash): Promise<ResolvedDocument | null> {
  let text: string | undefined;
  if (typeof body.query === 'string') text = body.query;
  else {
    const hash = persistedHash(body);
    if (hash !== undefined) text = await documentByHash(hash);
  }
  if (text === undefined || !text.includes('mutation')) return null;
  let document: DocumentNode;
  try {
    document = parse(text);
  } catch {
    return null;
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const name = typeof body.operationName === 'string' ? body.operationName : null;
  const operation = name === null ? (operations.length === 1 ? operations[0] : undefined) : operations.find((o) => o.name?.value === name);
  return operation?.operation === OperationTypeNode.MUTATION ? { text, document, operation } : null;
}

/** Root field names of the operation, through fragments. */
function rootFields(document: DocumentNode, selectionSet: SelectionSetNode, seen = new Set<string>()): string[] {
  const names: string[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) names.push(selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT) names.push(...rootFields(document, selection.selectionSet, seen));
    else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) names.push(...rootFields(document, fragment.selectionSet, seen));
    }
  }
  return names;
}

/** Whether a response body reports a server failure anywhere (then nothing is stored). */
function reportsServerFailure(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ extensions?: { code?: unknown } }> };
    return (parsed.errors ?? []).some((error) => SERVER_FAILURES.has(String(error.extensions?.code)));
  } catch {
    return true;
  }
}

function refusal(code: ErrorCode, requestId: string, message?: string) {
  return { status: errorCodes[code].status, body: requestError(code, requestId, message) };
}

export interface IdempotencyOptions {
  /** Where hash-only requests find their document (the APQ store or the trusted list). */
  documentByHash?: DocumentByHash;
}

export async function registerIdempotency(app: FastifyInstance, db: Kysely<Database>, options: IdempotencyOptions = {}): Promise<void> {
  const documentByHash: DocumentByHash = options.documentByHash ?? (async () => undefined);
  app.decorateRequest('idempotency');

  // After the authentication hook (registered before this one): the viewer is known.
  app.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.url !== '/graphql' || request.method !== 'POST') return;
    const ctx = request.graphqlContext;
    if (!ctx || typeof request.body !== 'object' || request.body === null) return;
    const body = request.body as GraphQLBody;
    const found = await mutationOf(body, documentByHash);
    if (!found) return;
    const header = request.headers['idempotency-key'];
    const key = Array.isArray(header) ? header[0] : header;
    let refused: ReturnType<typeof refusal> | undefined;
    if (key === undefined) {
      // Without credentials the operation cannot run at all: the permission layer answers UNAUTHENTICATED.
      if (!ctx.viewer) return;
      const fields = rootFields(found.document, found.operation.selectionSet);
      const needing = fields.find((field) => KEY_REQUIRED_MUTATIONS.has(field));
      if (needing === undefined) return;
      refused = refusal('IDEMPOTENCY_KEY_REQUIRED', request.id, `\`${needing}\` requires an Idempotency-Key header (a fresh random value per intended operation; resend it on retries).`);
    } else if (!KEY_FORMAT.test(key)) {
      refused = refusal('BAD_REQUEST', request.id, 'The Idempotency-Key header must be 1 to 255 printable ASCII characters.');
    } else if (!ctx.viewer) {
      refused = refusal('BAD_REQUEST', request.id, 'An Idempotency-Key is scoped to the signed-in caller: send credentials with it.');
    }
    if (refused) {
      request.stats.errorCodes = [refused.body.errors[0]?.extensions.code ?? 'BAD_REQUEST'];
      return reply.code(refused.status).header('cache-control', 'no-store').send(refused.body);
    }
    if (key === undefined || !ctx.viewer) return;

    const variables = typeof body.variables === 'object' ? body.variables : {};
    const principal = ctx.viewer.userId;
    const outcome = await claimKey(db, {
      principal,
      key,
      fingerprint: requestFingerprint(found.text, typeof body.operationName === 'string' ? body.operationName : null, variables),
    });
    switch (outcome.kind) {
      case 'replay':
        request.stats.errorCodes = [];
        return reply
          .code(outcome.response.status)
          .header('content-type', outcome.response.contentType)
          .header('idempotent-replayed', 'true')
          .header('cache-control', 'private, no-store')
          .send(outcome.response.body);
      case 'reused':
      case 'in-progress': {
        const answer = refusal(outcome.kind === 'reused' ? 'IDEMPOTENCY_KEY_REUSED' : 'IDEMPOTENCY_KEY_IN_PROGRESS', request.id);
        request.stats.errorCodes = [answer.body.errors[0]?.extensions.code ?? ''];
        if (outcome.kind === 'in-progress') reply.header('retry-after', '1');
        return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body);
      }
      case 'claimed': {
        let unit: OpenUnit<AppLoaders>;
        try {
          unit = await beginUnit(ctx);
        } catch (error) {
          await releaseKey(db, outcome.claim).catch(() => undefined);
          throw error;
        }
        request.idempotency = { claim: outcome.claim, unit };
        request.graphqlContext = { ...ctx, db: unit.scope.db, loaders: unit.scope.loaders, unit: unit.scope.unit };
        return;
      }
    }
  });

  // The exact bytes about to be sent: stored with the mutation's writes, in one commit.
  app.addHook('onSend', async (request, reply, payload) => {
    const keyed = request.idempotency;
    if (!keyed || keyed.unit.ended) return payload;
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : null;
    const status = reply.statusCode;
    const keep = body !== null && status < 400 && !reportsServerFailure(body);
    if (!keep) {
      await keyed.unit.rollback();
      await releaseKey(db, keyed.claim).catch((error: unknown) => request.log.warn({ err: error }, 'could not release an idempotency key'));
      return payload;
    }
    try {
      const contentType = String(reply.getHeader('content-type') ?? 'application/json');
      const stored = await storeResponse(keyed.unit.scope.db, keyed.claim, { status, contentType, body });
      if (!stored) {
        // Taken over after its lock ran out: another attempt owns the key now; this one must not commit.
        await keyed.unit.rollback();
        const answer = refusal('IDEMPOTENCY_KEY_IN_PROGRESS', request.id);
        reply.code(answer.status).header('content-type', 'application/json; charset=utf-8');
        return JSON.stringify(answer.body);
      }
      await keyed.unit.commit();
      return payload;
    } catch (error) {
      request.log.error({ err: error }, 'could not commit a keyed mutation with its stored response');
      await keyed.unit.rollback();
      await releaseKey(db, keyed.claim).catch(() => undefined);
      reply.code(500).header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify(requestError('INTERNAL_SERVER_ERROR', request.id));
    }
  });

  // Whatever happened (an aborted request, an error before onSend), an open unit never outlives its request.
  const settle = async (request: FastifyRequest) => {
    const keyed = request.idempotency;
    if (!keyed || keyed.unit.ended) return;
    await keyed.unit.rollback();
    await releaseKey(db, keyed.claim).catch(() => undefined);
  };
  app.addHook('onResponse', settle);
  app.addHook('onRequestAbort', settle);

  const timer = setInterval(() => {
    purgeExpiredKeys(db)
      .then((count) => count > 0 && app.log.info({ count }, 'purged expired idempotency keys'))
      .catch((error: unknown) => app.log.warn({ err: error }, 'could not purge expired idempotency keys'));
  }, PURGE_INTERVAL_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}

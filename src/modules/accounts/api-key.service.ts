import { newApiKey, sha256 } from '../../auth/secrets.js';
import { SCOPES, type Scope as ApiKeyScope } from '../../auth/viewer.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import type { Scope } from '../../scope/scope.js';
import { InputCheck } from '../../validation/input.js';
import { recordAudit } from '../audit/audit.service.js';
import type { UserLoaders } from '../users/user.loaders.js';
import type { UserRecord } from '../users/user.table.js';
import type { AccountLoaders } from './account.loaders.js';
import { findApiKeyWithOwnerByPrefix, insertApiKey, revokeApiKeyOfUser, revokeUserApiKeys, touchApiKey } from './api-key.repository.js';
import type { ApiKeyRow } from './api-key.table.js';
import { requireViewer } from './session.service.js';

/** API keys: created and revoked by their owner, looked up by authentication. */

const MAX_API_KEY_LIFETIME_MS = 366 * 24 * 3600 * 1000;
/** The longest key name, in code points; the `api_keys.name` check constraint says the same. */
export const API_KEY_NAME_MAX_LENGTH = 100;

export interface CreateApiKeyInput {
  name: string;
  scopes: readonly string[];
  expiresAt?: Date | string | null;
}

export async function createApiKey(
  scope: Scope,
  input: CreateApiKeyInput,
): Promise<{ apiKey: ApiKeyRow | null; plaintextKey: string | null; userErrors: UserErrorData[] }> {
  const viewer = requireViewer(scope);
  const check = new InputCheck();
  const errors = check.errors;
  // A key name is shown in account pages like any other name: the plain-text policy for one line.
  const name = check.text(['input', 'name'], input.name, { required: true, max: API_KEY_NAME_MAX_LENGTH, label: 'key name' });
  const scopes = [...new Set(input.scopes)].filter((s): s is ApiKeyScope => (SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0) errors.add(['input', 'scopes'], 'REQUIRED', 'Choose at least one scope.');
  // A key never exceeds its owner's role: only sellers and admins manage products.
  if (scopes.includes('catalog:write') && viewer.role === 'CUSTOMER') {
    errors.add(['input', 'scopes'], 'INVALID', 'CATALOG_WRITE is for sellers and admins: your account cannot manage products.');
  }
  let expiresAt: Date | null = null;
  if (input.expiresAt != null) {
    expiresAt = new Date(input.expiresAt);
    if (Number.isNaN(expiresAt.getTime()) || expiresAt <= new Date()) {
      errors.add(['input', 'expiresAt'], 'INVALID', 'The expiry must be in the future.');
    } else if (expiresAt.getTime() - Date.now() > MAX_API_KEY_LIFETIME_MS) {
      errors.add(['input', 'expiresAt'], 'INVALID', 'Keys expire at most one year ahead.');
    }
  }
  if (errors.any || name === undefined) return { apiKey: null, plaintextKey: null, userErrors: errors.list };

  const { key, prefix } = newApiKey();
  const apiKey = await unitOfWork(
    scope,
    async (unit) => {
      const row = await insertApiKey(unit.db, { user_id: viewer.userId, name, prefix, key_hash: sha256(key), scopes, expires_at: expiresAt });
      await recordAudit(unit, { action: 'API_KEY_CREATED', actorId: viewer.userId, targetType: 'ApiKey', targetId: row.id, metadata: { scopes, prefix } });
      return row;
    },
    { rerunnable: true },
  );
  return { apiKey, plaintextKey: key, userErrors: [] };
}

/**
 * Revokes one of the viewer's keys. `apiKeyId` is the raw id, or `null` for
 * an id of another type; someone else's key answers exactly like a missing one.
 */
export async function revokeApiKey(
  scope: Scope,
  input: { apiKeyId: string | null },
): Promise<{ apiKey: ApiKeyRow | null; userErrors: UserErrorData[] }> {
  const viewer = requireViewer(scope);
  const notFound = { apiKey: null, userErrors: [{ field: ['input', 'apiKeyId'], code: 'NOT_FOUND' as const, message: 'No such active API key.' }] };
  const id = input.apiKeyId;
  if (!id) return notFound;
  const revoked = await unitOfWork(
    scope,
    async (unit) => {
      const row = await revokeApiKeyOfUser(unit.db, id, viewer.userId);
      if (row) await recordAudit(unit, { action: 'API_KEY_REVOKED', actorId: viewer.userId, targetType: 'ApiKey', targetId: row.id });
      return row;
    },
    { rerunnable: true },
  );
  return revoked ? { apiKey: revoked, userErrors: [] } : notFound;
}

/** Revokes every key of a user (in the caller's unit of work); returns how many. */
export async function revokeAllApiKeysOfUser(scope: Scope, userId: string): Promise<number> {
  return revokeUserApiKeys(scope.db, userId);
}

/** One of the viewer's API keys; anyone else's is `null`, like a missing one. */
export async function getOwnApiKey(scope: Scope<AccountLoaders>, id: string): Promise<ApiKeyRow | null> {
  if (!scope.viewer || scope.viewer.via === 'api_key') return null;
  const key = await scope.loaders.apiKeyById.load(id);
  return key && key.user_id === scope.viewer.userId ? key : null;
}

/** The API keys of a user (the permission layer lets only the user ask). */
export async function listApiKeys(scope: Scope<AccountLoaders>, userId: string): Promise<ApiKeyRow[]> {
  return scope.loaders.apiKeysByUser.load(userId);
}

/**
 * A key and its owner by the key's public prefix, in one statement; the
 * owner row is primed into the scope's loader, so later reads reuse it.
 */
export async function findApiKeyByPrefix(scope: Scope<UserLoaders>, prefix: string): Promise<{ key: ApiKeyRow; owner: UserRecord } | null> {
  const found = await findApiKeyWithOwnerByPrefix(scope.db, prefix);
  if (found) scope.loaders.userById.prime(found.owner.id, found.owner);
  return found ?? null;
}

const TOUCH_INTERVAL_MS = 60_000;

/**
 * Last-used time is coarse (a minute) so that using a key does not write on
 * every request: skipped when the row says it was recorded recently, and the
 * update itself is conditional, so concurrent instances write at most once.
 * Runs off the request's path on the pool (outside any unit of work): a
 * failure is logged, never the caller's problem.
 */
export function recordApiKeyUse(scope: Scope, key: ApiKeyRow): void {
  if (key.last_used_at && Date.now() - key.last_used_at.getTime() < TOUCH_INTERVAL_MS) return;
  touchApiKey(scope.pool, key.id).catch((error: unknown) => scope.log.warn({ err: error, keyId: key.id }, 'could not record API key use'));
}

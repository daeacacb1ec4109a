import type { Scope } from '../../scope/scope.js';
import { openSecret, sealSecret, sealedUnderCurrentKey } from './signing.js';
import { lockEndpointsSealedUnderOtherKeys, storeSealedSecrets } from './webhook.repository.js';

export interface ResealResult {
  /** Endpoints whose secrets now sit under the current sealing key. */
  resealed: number;
  /** Endpoints with a secret that opens under no key of the set (its key was retired first): left as they are. */
  unreadable: number;
}

/**
 * Moves endpoint secrets sealed under an older key (before a JWT signing-key
 * rotation, src/auth/signing-keys.ts) onto the current one, while the older
 * key is still in the set. Run hourly by the worker (`webhooks.resealSecrets`),
 * so a retired signing key kept for 24 hours, as the idempotency records
 * already require, leaves no endpoint whose secret cannot be read. Idempotent:
 * a second run finds nothing to do. A secret that no longer opens is counted
 * and left: its deliveries fail with "rotate the secret" (delivery.service.ts).
 */
export async function resealSecrets(scope: Scope, options: { batchSize: number; afterId?: string | null }): Promise<ResealResult & { lastId: string | null }> {
  const keys = scope.deps.auth.keys;
  const rows = await lockEndpointsSealedUnderOtherKeys(scope.db, `v1.${keys.sealingKid}.`, options.afterId ?? null, options.batchSize);
  let resealed = 0;
  let unreadable = 0;
  for (const row of rows) {
    const reseal = (sealed: string): string | undefined => {
      if (sealedUnderCurrentKey(keys, sealed)) return sealed;
      const secret = openSecret(keys, row.id, sealed);
      return secret === undefined ? undefined : sealSecret(keys, row.id, secret);
    };
    const current = reseal(row.secret_sealed);
    const previous = row.previous_secret_sealed === null ? null : reseal(row.previous_secret_sealed);
    if (current === undefined || previous === undefined) {
      unreadable += 1;
      continue;
    }
    await storeSealedSecrets(scope.db, row.id, { secret_sealed: current, previous_secret_sealed: previous });
    resealed += 1;
  }
  if (resealed > 0 || unreadable > 0) scope.log.info({ resealed, unreadable }, 'webhook secrets moved to the current sealing key');
  return { resealed, unreadable, lastId: rows.length === options.batchSize ? (rows.at(-1)?.id ?? null) : null };
}

import type { Scope } from '../../scope/scope.js';

/** The webhook settings of the scope's application, or the production defaults (https, public targets only). */
export function webhookSettings(scope: Scope) {
  return (
    scope.deps.webhooks ?? {
      allowPrivateTargets: false,
      timeoutMs: 10_000,
      retryBaseMs: 5000,
      maxEndpoints: 10,
      disableAfterHours: 72,
    }
  );
}

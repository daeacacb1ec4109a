import type { OidcIdentity } from '../../auth/oidc.js';
import { sha256 } from '../../auth/secrets.js';
import { isUniqueViolation } from '../../db/faults.js';
import { unitOfWork } from '../../db/unit-of-work.js';
import type { Scope } from '../../scope/scope.js';
import { recordAudit } from '../audit/audit.service.js';
import type { UserLoaders } from '../users/user.loaders.js';
import { createUser, displayNameFromProvider, findUserByEmail, loadUserRow, toUserRecord } from '../users/user.service.js';
import type { UserRecord } from '../users/user.table.js';
import { findUserIdByIdentity, insertIdentity } from './identity.repository.js';

/** External identities: accounts of users who sign in with an OpenID Connect provider. */

class IdentityRaceError extends Error {}

/**
 * Finds the user of an external identity, creating the account on first use.
 * The provider's email is used only when it is verified and not taken (an
 * unverified or colliding email must not take over an existing account).
 * The provider's name is made to fit the display-name rule rather than
 * refused (`displayNameFromProvider`): an odd name never fails a sign-in.
 */
export async function provisionOidcUser(scope: Scope<UserLoaders>, identity: OidcIdentity): Promise<UserRecord> {
  const existingId = await findUserIdByIdentity(scope.db, identity.issuer, identity.subject);
  if (existingId) {
    const user = await loadUserRow(scope, existingId);
    if (user) return user;
  }
  const created = await unitOfWork(
    scope,
    async (unit) => {
      const emailFree = identity.email && identity.emailVerified && !(await findUserByEmail(unit, identity.email));
      const email = emailFree && identity.email ? identity.email : `${sha256(`${identity.issuer}|${identity.subject}`).toString('hex').slice(0, 24)}@oidc.invalid`;
      const user = await createUser(unit, { email, display_name: displayNameFromProvider(identity.name), role: 'CUSTOMER', password_hash: null });
      if (!(await insertIdentity(unit.db, user.id, identity.issuer, identity.subject))) throw new IdentityRaceError();
      await recordAudit(unit, { action: 'OIDC_USER_PROVISIONED', actorId: user.id, targetType: 'User', targetId: user.id, metadata: { issuer: identity.issuer } });
      return toUserRecord(user);
    },
    // A savepoint: when a concurrent first request wins the race, only this part rolls back.
    { savepoint: true, rerunnable: true },
  ).catch(async (error: unknown) => {
    // A concurrent first request linked the identity: use that account.
    if (error instanceof IdentityRaceError || isUniqueViolation(error)) {
      const id = await findUserIdByIdentity(scope.db, identity.issuer, identity.subject);
      const user = id ? await loadUserRow(scope, id) : null;
      if (user) return user;
    }
    throw error;
  });
  scope.loaders.userById.prime(created.id, created);
  return created;
}

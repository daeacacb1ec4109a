import { unitOfWork } from '../../db/unit-of-work.js';
import { appError } from '../../errors/errors.js';
import type { UserErrorData } from '../../errors/user-errors.js';
import { recordChanges } from '../../scope/changes.js';
import type { Scope } from '../../scope/scope.js';
import { InputCheck } from '../../validation/input.js';
import type { UserLoaders } from './user.loaders.js';
import { checkDisplayName, getUser, updateProfileFields } from './user.service.js';
import type { UserRecord } from './user.table.js';

/** The signed-in user's own public profile. */

export interface UpdateProfileInput {
  displayName?: string | null;
}

export interface ProfileResult {
  user: UserRecord | null;
  userErrors: UserErrorData[];
}

/**
 * Changes the viewer's display name. An omitted (or null) field keeps its
 * value; a value equal to the current one writes nothing. Users carry no
 * `version`: the profile is the user's own and has one field, so the last
 * write wins, as it does for a password. The change is recorded for the
 * change feed, so cached public answers showing the user (as a seller or a
 * review author) are dropped once it commits.
 */
export async function updateProfile(scope: Scope<UserLoaders>, input: UpdateProfileInput): Promise<ProfileResult> {
  // The permission layer refuses anonymous callers; this guards misuse of the service.
  const viewer = scope.viewer;
  if (!viewer) throw appError('UNAUTHENTICATED');
  const check = new InputCheck();
  const displayName = input.displayName == null ? undefined : checkDisplayName(check, ['input', 'displayName'], input.displayName);
  if (!check.ok) return { user: null, userErrors: check.errors.list };

  const current = await getUser(scope, viewer.userId);
  if (!current) throw appError('UNAUTHENTICATED');
  if (displayName === undefined || displayName === current.display_name) return { user: current, userErrors: [] };
  return unitOfWork(
    scope,
    async (unit) => {
      const updated = await updateProfileFields(unit, viewer.userId, { display_name: displayName });
      // Deactivated since this request was authenticated: the account can no longer act.
      if (!updated) throw appError('UNAUTHENTICATED');
      await recordChanges(unit, { entity: 'user', id: viewer.userId });
      return { user: updated, userErrors: [] };
    },
    { rerunnable: true },
  );
}

import type { UserErrorCode } from '../graphql/generated/resolvers-types.js';

/** An expected problem with a mutation's input, returned as data in `userErrors`. */
export interface UserErrorData {
  field: string[] | null;
  code: UserErrorCode;
  message: string;
}

/**
 * Collects every problem with an input before anything is written, so the
 * client sees them all at once.
 *
 * @example
 *   const errors = new UserErrorList();
 *   if (!input.email) errors.add(['input', 'email'], 'REQUIRED', 'Enter an email address.');
 *   if (errors.any) return { user: null, userErrors: errors.list };
 */
export class UserErrorList {
  readonly list: UserErrorData[] = [];

  add(field: string[] | null, code: UserErrorCode, message: string): this {
    this.list.push({ field, code, message });
    return this;
  }

  get any(): boolean {
    return this.list.length > 0;
  }
}

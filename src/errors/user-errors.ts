import type { UserErrorCode } from '../graphql/generated/resolvers-types.js';

/** An expected problem with a mutation's input, returned as data in `userErrors`. */
export interface UserErrorData {
  field: string[] | null;
  code: UserErrorCode;
  message: string;
  /** With VERSION_CONFLICT: the object's current version. */
  currentVersion?: number | null;
  /** With OUT_OF_STOCK: the units available now. */
  availableQuantity?: number | null;
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

  add(field: string[] | null, code: UserErrorCode, message: string, extra: Pick<UserErrorData, 'currentVersion' | 'availableQuantity'> = {}): this {
    this.list.push({ field, code, message, ...extra });
    return this;
  }

  /** Whether a problem was already recorded at this path (so one value gets one error). */
  has(field: readonly string[]): boolean {
    return this.list.some((error) => error.field !== null && error.field.join('\u0000') === field.join('\u0000'));
  }

  get any(): boolean {
    return this.list.length > 0;
  }
}

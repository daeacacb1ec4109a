import { UserErrorList } from '../errors/user-errors.js';
import { plainTextProblem, textLength, type TextShape } from './plain-text.js';

/**
 * Field checks for mutation inputs. Each check records its problem at the
 * input path (`['input', 'items', '2', 'quantity']`) and returns the clean
 * value, or `undefined` when the value was missing or rejected; the caller
 * goes on checking the other fields and reports everything at once.
 *
 * @example
 *   const check = new InputCheck();
 *   const title = check.text(['input', 'title'], input.title, { required: true, max: 200 });
 *   const price = check.integer(['input', 'price', 'amount'], input.price?.amount, { min: 0, max: 100_000_000 });
 *   if (check.errors.any) return { product: null, userErrors: check.errors.list };
 */
export class InputCheck {
  readonly errors = new UserErrorList();

  /** A free-text value under the plain-text policy: trimmed, then checked for characters, markup and length. */
  text(
    field: string[],
    value: string | null | undefined,
    options: { required?: boolean; min?: number; max: number; shape?: TextShape; label?: string },
  ): string | undefined {
    const label = options.label ?? field[field.length - 1] ?? 'value';
    if (value == null || value.trim().length === 0) {
      if (options.required) this.errors.add(field, 'REQUIRED', `Enter ${article(label)}.`);
      return value == null ? undefined : options.required ? undefined : '';
    }
    const trimmed = value.trim();
    const shape = options.shape ?? 'single-line';
    const problem = plainTextProblem(trimmed, shape);
    if (problem === 'CONTROL_CHARACTER') {
      const allowed = shape === 'multi-line' ? ' (line breaks and tabs are fine)' : '';
      this.errors.add(field, 'INVALID', `The ${label} contains control characters; use plain text${allowed}.`);
      return undefined;
    }
    if (problem === 'MARKUP') {
      this.errors.add(field, 'INVALID', `The ${label} contains markup (like "<b>"); use plain text.`);
      return undefined;
    }
    const length = textLength(trimmed);
    if (options.min !== undefined && length < options.min) {
      this.errors.add(field, 'TOO_SHORT', `The ${label} must be at least ${options.min} characters long.`);
      return undefined;
    }
    if (length > options.max) {
      this.errors.add(field, 'TOO_LONG', `The ${label} must be at most ${options.max} characters long.`);
      return undefined;
    }
    return trimmed;
  }

  /** An integer in [min, max]. */
  integer(field: string[], value: number | null | undefined, options: { required?: boolean; min: number; max: number; label?: string }): number | undefined {
    const label = options.label ?? field[field.length - 1] ?? 'value';
    if (value == null) {
      if (options.required) this.errors.add(field, 'REQUIRED', `Enter ${article(label)}.`);
      return undefined;
    }
    if (!Number.isSafeInteger(value) || value < options.min || value > options.max) {
      this.errors.add(field, 'OUT_OF_RANGE', `The ${label} must be a whole number from ${options.min} to ${options.max}.`);
      return undefined;
    }
    return value;
  }

  /** A value that must be present (an id, an enum); returns it when it is. */
  required<T>(field: string[], value: T | null | undefined, label?: string): T | undefined {
    if (value == null || (typeof value === 'string' && value.length === 0)) {
      this.errors.add(field, 'REQUIRED', `Enter ${article(label ?? field[field.length - 1] ?? 'value')}.`);
      return undefined;
    }
    return value;
  }

  get ok(): boolean {
    return !this.errors.any;
  }
}

function article(label: string): string {
  return /^[aeiou]/i.test(label) ? `an ${label}` : `a ${label}`;
}

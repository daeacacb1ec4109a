/**
 * The plain-text policy: one rule for every free-text input of the API
 * (titles, descriptions, names, review bodies), so stored text is safe to
 * show as text anywhere.
 *
 * - Control characters (Unicode category Cc, NUL included) are refused. A
 *   multi-line field (descriptions, review bodies) accepts line feed, carriage
 *   return and tab; a single-line field (titles, names) accepts none.
 * - Markup is refused, not stripped: a `<` followed by a letter, `/`, `!` or
 *   `?` starts something a browser would read as a tag, comment or processing
 *   instruction. Refusing keeps the stored text exactly what its author sent
 *   (stripping would silently change it); `a < b` and `<3` are still plain text.
 * - Leading and trailing white space is trimmed before lengths are checked;
 *   lengths count Unicode code points, as PostgreSQL's `char_length` does.
 *
 * This module is pure (no GraphQL, no database), so an edge-level check of
 * every string argument can share `findControlCharacter` with the field-level
 * checks of the services.
 */

export type TextShape = 'single-line' | 'multi-line';

/** Characters a multi-line field may contain although they are in Cc. */
const LINE_BREAKS_AND_TABS = new Set(['\n', '\r', '\t']);
const CONTROL = /\p{Cc}/gu;
const MARKUP = /<[A-Za-z/!?]/;

/** The first control character the shape does not allow, or `null`. */
export function findControlCharacter(value: string, shape: TextShape = 'single-line'): string | null {
  for (const match of value.matchAll(CONTROL)) {
    if (shape === 'multi-line' && LINE_BREAKS_AND_TABS.has(match[0])) continue;
    return match[0];
  }
  return null;
}

/** Whether the text contains something a browser would parse as markup. */
export function containsMarkup(value: string): boolean {
  return MARKUP.test(value);
}

/** Length in code points (what PostgreSQL's `char_length` counts). */
export function textLength(value: string): number {
  let length = 0;
  for (const _ of value) length += 1;
  return length;
}

export type PlainTextProblem = 'CONTROL_CHARACTER' | 'MARKUP';

/** What is wrong with a text under the policy, or `null` when it is acceptable plain text. */
export function plainTextProblem(value: string, shape: TextShape): PlainTextProblem | null {
  if (findControlCharacter(value, shape) !== null) return 'CONTROL_CHARACTER';
  if (containsMarkup(value)) return 'MARKUP';
  return null;
}

/** Runs of white space holding at least one control character. */
const CONTROL_RUN = /[\s\p{Cc}]*\p{Cc}[\s\p{Cc}]*/gu;
const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Text that arrives from outside the API rather than from its caller (an
 * identity provider's `name` claim), made to fit a single-line field when
 * refusing it is not an option: each run of control characters (and the
 * white space around it) becomes one space, the result is trimmed and cut to
 * at most `max` code points at a character boundary as readers see it (an
 * emoji with its modifiers or a letter with its accents stays whole, and a
 * surrogate pair is never split). Returns `null` when nothing is left or when
 * the text holds markup: stripping tags would guess at what was meant, so the
 * caller picks its own fallback. Whatever it returns passes the policy for a
 * single-line field of `max` code points.
 *
 * @example
 *   plainTextLineFrom('Ada\n\tLovelace', 80) // 'Ada Lovelace'
 *   plainTextLineFrom('<b>Ada</b>', 80)      // null
 */
export function plainTextLineFrom(value: string | null | undefined, max: number): string | null {
  if (value == null) return null;
  const line = value.replace(CONTROL_RUN, ' ').trim();
  if (containsMarkup(line)) return null;
  const cut = cutToCodePoints(line, max).trimEnd();
  return cut.length > 0 ? cut : null;
}

/** The longest prefix of whole grapheme clusters that is at most `max` code points long. */
function cutToCodePoints(value: string, max: number): string {
  if (textLength(value) <= max) return value;
  let kept = '';
  let length = 0;
  for (const { segment } of GRAPHEMES.segment(value)) {
    const size = textLength(segment);
    if (length + size > max) break;
    kept += segment;
    length += size;
  }
  return kept;
}

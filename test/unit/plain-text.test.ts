import { describe, expect, it } from '@jest/globals';

import { InputCheck } from '../../src/validation/input.js';
import { checkDisplayName, DISPLAY_NAME_MAX_LENGTH, displayNameFromProvider, FALLBACK_DISPLAY_NAME } from '../../src/modules/users/user.service.js';
import { containsMarkup, findControlCharacter, plainTextLineFrom, plainTextProblem, textLength } from '../../src/validation/plain-text.js';

describe('the plain-text policy', () => {
  it('refuses NUL and every other control character in single-line text', () => {
    for (const bad of ['a\u0000b', 'tab\there', 'line\nbreak', 'bell\u0007', 'del\u007f', 'c1\u0085']) {
      expect({ bad, problem: plainTextProblem(bad, 'single-line') }).toEqual({ bad, problem: 'CONTROL_CHARACTER' });
    }
  });

  it('accepts line breaks and tabs in multi-line text but still refuses NUL there', () => {
    expect(plainTextProblem('first line\r\nsecond\tline', 'multi-line')).toBeNull();
    expect(findControlCharacter('ok\nthen\u0000', 'multi-line')).toBe('\u0000');
  });

  it('refuses tags, closing tags, comments and processing instructions, but not a lone less-than sign', () => {
    for (const markup of ['<b>bold</b>', 'x</p>', '<!-- c -->', '<?xml?>', '<script>alert(1)</script>', '<img src=x onerror=y>']) {
      expect({ markup, found: containsMarkup(markup) }).toEqual({ markup, found: true });
    }
    for (const plain of ['a < b', 'I <3 it', '5<6', 'x << y', 'R&D', '"quoted" & \'single\'']) {
      expect({ plain, problem: plainTextProblem(plain, 'single-line') }).toEqual({ plain, problem: null });
    }
  });

  it('counts code points, as char_length does', () => {
    expect(textLength('😀a')).toBe(2);
  });
});

describe('InputCheck', () => {
  it('reports every problem at once, each with its path and code, and distinguishes REQUIRED from invalid values', () => {
    const check = new InputCheck();
    check.text(['input', 'title'], '   ', { required: true, max: 10 });
    check.text(['input', 'name'], 'way too long for this', { required: true, max: 10 });
    check.text(['input', 'slug'], 'a', { required: true, min: 2, max: 10 });
    check.text(['input', 'description'], '<i>x</i>', { max: 100, shape: 'multi-line' });
    check.integer(['input', 'items', '2', 'quantity'], 101, { min: 1, max: 100 });
    check.integer(['input', 'stock'], undefined, { required: true, min: 0, max: 5 });
    expect(check.errors.list.map(({ field, code }) => ({ field, code }))).toEqual([
      { field: ['input', 'title'], code: 'REQUIRED' },
      { field: ['input', 'name'], code: 'TOO_LONG' },
      { field: ['input', 'slug'], code: 'TOO_SHORT' },
      { field: ['input', 'description'], code: 'INVALID' },
      { field: ['input', 'items', '2', 'quantity'], code: 'OUT_OF_RANGE' },
      { field: ['input', 'stock'], code: 'REQUIRED' },
    ]);
    expect(check.ok).toBe(false);
  });

  it('returns the trimmed value of acceptable text, and an empty string for an optional text left blank', () => {
    const check = new InputCheck();
    expect(check.text(['input', 'title'], '  Lamp  ', { required: true, max: 10 })).toBe('Lamp');
    expect(check.text(['input', 'description'], '  ', { max: 10 })).toBe('');
    expect(check.text(['input', 'description'], undefined, { max: 10 })).toBeUndefined();
    expect(check.ok).toBe(true);
  });
});

describe('plainTextLineFrom (outside text made to fit a single-line field)', () => {
  it('turns each run of control characters, with the white space around it, into one space and trims', () => {
    expect(plainTextLineFrom('Ada\u0000Lovelace', 80)).toBe('Ada Lovelace');
    expect(plainTextLineFrom(' Ada \r\n\t Lovelace\u0007 ', 80)).toBe('Ada Lovelace');
    expect(plainTextLineFrom('Ada  Lovelace', 80)).toBe('Ada  Lovelace');
    expect(plainTextLineFrom('c1\u0085control\u007f', 80)).toBe('c1 control');
  });

  it('gives null for markup instead of stripping it, also when removing a control character would reveal it', () => {
    expect(plainTextLineFrom('<b>Ada</b>', 80)).toBeNull();
    expect(plainTextLineFrom('Ada <!-- x -->', 80)).toBeNull();
    // A control character becomes a space, so "<\u0000b" cannot turn into "<b".
    expect(plainTextLineFrom('<\u0000b>', 80)).toBe('< b>');
    expect(plainTextLineFrom('Ada < Bob <3', 80)).toBe('Ada < Bob <3');
  });

  it('gives null when nothing is left', () => {
    for (const empty of [null, undefined, '', '   ', '\u0000\u001b', ' \n\t ']) {
      expect({ empty, line: plainTextLineFrom(empty, 80) }).toEqual({ empty, line: null });
    }
  });

  it('cuts at code points, never inside a surrogate pair', () => {
    const cut = plainTextLineFrom('a' + '\u{1F600}'.repeat(10), 5);
    expect(cut).toBe('a' + '\u{1F600}'.repeat(4));
    expect(cut && /[\uD800-\uDBFF]$/.test(cut)).toBe(false);
  });

  it('keeps a character as readers see it whole: an emoji with its modifiers, a letter with its accent', () => {
    const family = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}'; // 5 code points, one picture
    expect(plainTextLineFrom(`ab${family}`, 6)).toBe('ab');
    expect(plainTextLineFrom(`ab${family}`, 7)).toBe(`ab${family}`);
    expect(plainTextLineFrom('Zoe\u0301', 3)).toBe('Zo');
    expect(plainTextLineFrom('Zoe\u0301 B', 5)).toBe('Zoe\u0301');
  });

  it('drops white space left at the end by the cut', () => {
    expect(plainTextLineFrom('Ada Lovelace', 4)).toBe('Ada');
  });
});

describe('display names from an identity provider', () => {
  const odd = [
    'Olivia Idp',
    '  spaced  ',
    'Ada\u0000\nLovelace',
    '<script>alert(1)</script>',
    'x'.repeat(500),
    '\u{1F600}'.repeat(81),
    'a' + '\u{1F600}'.repeat(80),
    '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}'.repeat(20),
    '\u0000',
    '',
  ];

  it('always gives a name the display-name rule accepts, whatever the provider sent', () => {
    for (const name of odd) {
      const shown = displayNameFromProvider(name);
      const check = new InputCheck();
      expect({ name, shown, checked: checkDisplayName(check, ['name'], shown), errors: check.errors.list }).toEqual({ name, shown, checked: shown, errors: [] });
      expect(textLength(shown)).toBeLessThanOrEqual(DISPLAY_NAME_MAX_LENGTH);
    }
  });

  it('keeps a plain name, cleans control characters, and falls back for markup, nothing, or no name at all', () => {
    expect(displayNameFromProvider('  Olivia Idp ')).toBe('Olivia Idp');
    expect(displayNameFromProvider('Ada\u0000\nLovelace')).toBe('Ada Lovelace');
    expect(displayNameFromProvider('Olivia <b>Idp</b>')).toBe(FALLBACK_DISPLAY_NAME);
    expect(displayNameFromProvider('\u0000 ')).toBe(FALLBACK_DISPLAY_NAME);
    expect(displayNameFromProvider(undefined)).toBe(FALLBACK_DISPLAY_NAME);
  });

  it('cuts a long name to DISPLAY_NAME_MAX_LENGTH code points', () => {
    expect(displayNameFromProvider('\u{1F600}'.repeat(81))).toBe('\u{1F600}'.repeat(DISPLAY_NAME_MAX_LENGTH));
    expect(displayNameFromProvider('y'.repeat(200))).toBe('y'.repeat(DISPLAY_NAME_MAX_LENGTH));
  });
});

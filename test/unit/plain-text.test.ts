import { describe, expect, it } from '@jest/globals';

import { InputCheck } from '../../src/validation/input.js';
import { containsMarkup, findControlCharacter, plainTextProblem, textLength } from '../../src/validation/plain-text.js';

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

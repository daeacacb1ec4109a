/**
 * How a variable's text becomes a value: zod schemas over the trimmed,
 * non-empty text of one variable, each failing with a message that follows
 * the variable's name ("PORT must be an integer from 0 to 65535 (got "x")").
 * Schemas that may see a secret never echo their input. Each schema carries
 * the range it accepts as metadata, for the generated reference.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

import { z } from 'zod';

/** What the reference says a variable accepts ("0–65535", "`json` or `pretty`"). */
export const acceptedValues = z.registry<{ accepts: string }>();

/** A schema reading one variable's text (already trimmed, never empty) into a value. */
export type VariableSchema<T> = z.ZodType<T, string>;

export type Env = Record<string, string | undefined>;

const got = (input: unknown): string => `(got "${String(input)}")`;
const code = (value: string): string => `\`${value}\``;
const orList = (values: readonly string[]): string =>
  values.length === 1 ? code(values[0]!) : `${values.slice(0, -1).map(code).join(', ')} or ${code(values.at(-1)!)}`;

function accepts<T>(schema: VariableSchema<T>, text: string): VariableSchema<T> {
  return schema.register(acceptedValues, { accepts: text });
}

/** Any text. */
export function text(): VariableSchema<string> {
  return z.string();
}

/** A whole number in [min, max], written with digits only. */
export function integer(min: number, max: number): VariableSchema<number> {
  return accepts(
    z
      .string()
      .refine((value) => /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max, {
        error: (issue) => `must be an integer from ${min} to ${max} ${got(issue.input)}`,
      })
      .transform(Number),
    `${min}–${max}`,
  );
}

/** `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, in any case. */
export function boolean(): VariableSchema<boolean> {
  return accepts(
    z.stringbool({
      truthy: ['true', '1', 'yes', 'on'],
      falsy: ['false', '0', 'no', 'off'],
      case: 'insensitive',
      error: (issue) => `must be true or false ${got(String(issue.input).toLowerCase())}`,
    }),
    '`true` or `false`',
  );
}

/** One of a fixed set of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T): VariableSchema<T[number]> {
  return accepts(
    z.enum(values, { error: (issue) => `must be one of ${values.join(', ')} ${got(issue.input)}` }),
    orList(values),
  );
}

/** A URL with one of the given protocols (`redis:`); the value is not echoed. */
export function url(protocols: readonly string[]): VariableSchema<string> {
  const schemes = protocols.map((protocol) => `${protocol}//`);
  return accepts(
    z.string().refine((value) => URL.canParse(value) && protocols.includes(new URL(value).protocol), {
      error: `must be a URL starting with ${schemes.join(' or ')}`,
    }),
    `a ${schemes.map(code).join(' or ')} URL`,
  );
}

/** A PostgreSQL connection URL; never echoed, as it may hold a password. */
export function postgresUrl(): VariableSchema<string> {
  return accepts(
    z.string().refine((value) => URL.canParse(value) && ['postgres:', 'postgresql:'].includes(new URL(value).protocol), {
      error: 'must be a postgres:// or postgresql:// URL',
    }),
    'a `postgres://` or `postgresql://` URL',
  );
}

/** Comma-separated PostgreSQL connection URLs (at least one, no repeats); never echoed, as they may hold passwords. */
export function postgresUrls(): VariableSchema<string[]> {
  const isPostgresUrl = (value: string): boolean => URL.canParse(value) && ['postgres:', 'postgresql:'].includes(new URL(value).protocol);
  return accepts(
    z.string().transform((value, context) => {
      const urls = value.split(',').map((item) => item.trim());
      if (urls.some((item) => !isPostgresUrl(item))) {
        context.issues.push({ code: 'custom', input: value, message: 'must be postgres:// or postgresql:// URLs separated by commas' });
        return z.NEVER;
      }
      if (new Set(urls).size !== urls.length) {
        context.issues.push({ code: 'custom', input: value, message: 'must not name the same URL twice' });
        return z.NEVER;
      }
      return urls;
    }),
    'comma-separated `postgres://` URLs',
  );
}

const DURATION = /^(\d+)\s*(ms|s)?$/;

/**
 * A duration in milliseconds from `500`, `500ms` or `2s`, within [minMs, maxMs];
 * a bare number is milliseconds.
 */
export function duration(minMs: number, maxMs: number): VariableSchema<number> {
  const read = (value: string): number | undefined => {
    const match = DURATION.exec(value);
    if (!match) return undefined;
    const ms = Number(match[1]) * (match[2] === 's' ? 1000 : 1);
    return ms >= minMs && ms <= maxMs ? ms : undefined;
  };
  const range = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  return accepts(
    z
      .string()
      .refine((value) => read(value) !== undefined, {
        error: (issue) => `must be a duration from ${range(minMs)} to ${range(maxMs)}, such as 500, 500ms or 2s ${got(issue.input)}`,
      })
      .transform((value) => read(value) ?? minMs),
    `${range(minMs)}–${range(maxMs)} (\`500ms\`, \`2s\`; a bare number is ms)`,
  );
}

function isJson(value: string): boolean {
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}

/** JSON text, kept as text; never echoed, as it holds private keys. */
export function json(): VariableSchema<string> {
  return accepts(z.string().refine(isJson, { error: 'must be valid JSON' }), 'JSON');
}

/** At least `length` characters; never echoed (a token). */
export function secret(length: number): VariableSchema<string> {
  return accepts(z.string().min(length, { error: `must be at least ${length} characters long` }), `${length} characters or more`);
}

/**
 * A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random
 * bytes (`whsec_$(openssl rand -base64 32)`); never echoed.
 */
export function webhookSecret(): VariableSchema<string> {
  const valid = (value: string): boolean => {
    const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value);
    if (!match?.[1]) return false;
    const bytes = Buffer.from(match[1], 'base64').length;
    return bytes >= 24 && bytes <= 64;
  };
  return accepts(
    z.string().refine(valid, { error: 'must be `whsec_` followed by the base64 of 24 to 64 random bytes (whsec_$(openssl rand -base64 32))' }),
    '`whsec_` + base64 of 24–64 bytes',
  );
}

function isOrigin(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const parsed = new URL(value);
  return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.origin === value;
}

const splitList = (value: string): string[] => value.split(',').map((item) => item.trim()).filter((item) => item.length > 0);

/** Comma-separated exact origins such as `https://shop.example.com`. */
export function origins(): VariableSchema<string[]> {
  return accepts(
    z
      .string()
      .transform(splitList)
      .check((context) => {
        const invalid = context.value.find((origin) => !isOrigin(origin));
        if (invalid !== undefined) {
          context.issues.push({
            code: 'custom',
            input: context.value,
            message: `must list origins like https://shop.example.com, separated by commas ${got(invalid)}`,
          });
        }
      }),
    'comma-separated origins such as `https://shop.example.com`',
  );
}

/** An HTTP field name (RFC 9110 token); `*` is not one, and with credentials it would not be a wildcard anyway. */
const HEADER_NAME = /^[a-z0-9!#$%&'+.^_`|~-]+$/;

/** Comma-separated HTTP header names, lower-cased and without repeats. */
export function headerNames(): VariableSchema<string[]> {
  return accepts(
    z.string().transform((value, context) => {
      const names = splitList(value.toLowerCase());
      const invalid = names.find((name) => !HEADER_NAME.test(name));
      if (invalid !== undefined || names.length === 0) {
        context.issues.push({
          code: 'custom',
          input: value,
          message: `must list header names such as content-type, separated by commas ${got(invalid ?? value)}`,
        });
        return z.NEVER;
      }
      return [...new Set(names)];
    }),
    'comma-separated header names',
  );
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** An IP address or a host name (letters, digits, hyphens, dots), as listen() accepts. */
export function host(): VariableSchema<string> {
  return accepts(
    z.string().refine(
      // A name whose last label is all digits would be a mistyped IPv4 address, not a host name.
      (value) => isIP(value) !== 0 || (HOST_NAME.test(value) && !/(^|\.)\d+$/.test(value)),
      { error: (issue) => `must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::) or a host name such as localhost ${got(issue.input)}` },
    ),
    'an IP address or a host name',
  );
}

/** Text matching a pattern, described in words for the message and the reference. */
export function matching(pattern: RegExp, description: string): VariableSchema<string> {
  return accepts(
    z.string().regex(pattern, { error: (issue) => `must be ${description} ${got(issue.input)}` }),
    description,
  );
}

/** A variable's value as the schemas see it: trimmed, and absent when empty. */
export function rawValue(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * `<NAME>_FILE` for each of `names`: the file's content (trailing newline
 * removed) becomes `<NAME>`. Setting both is an error, as is a file that
 * cannot be read. The content is never echoed.
 */
export function readFileVariables(env: Env, names: readonly string[]): { env: Env; problems: { variable: string; message: string }[] } {
  const resolved: Env = { ...env };
  const problems: { variable: string; message: string }[] = [];
  for (const name of names) {
    const file = rawValue(env, `${name}_FILE`);
    if (file === undefined) continue;
    if (rawValue(env, name) !== undefined) {
      problems.push({ variable: name, message: `${name} and ${name}_FILE are both set; set only one` });
      continue;
    }
    try {
      resolved[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      const errorCode = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push({ variable: name, message: `${name}_FILE names a file that cannot be read: ${file} (${errorCode})` });
    }
  }
  return { env: resolved, problems };
}

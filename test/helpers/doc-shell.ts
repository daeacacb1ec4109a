/**
 * Just enough of a POSIX shell, curl and jq to run the shell examples of
 * README.md and docs/ as fetch calls, without either tool installed: what the
 * docs show a reader to paste is what test/docs-examples.test.ts runs.
 * Anything outside this subset is an error naming the construct, never
 * silently skipped.
 */

/** Splits one shell command into words: quotes, `$VAR`/`${VAR}` in double quotes and bare words. */
export function shellWords(command: string, variable: (name: string) => string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < command.length; i += 1) {
    const c = command[i] as string;
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${command}`);
      current += command.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      i += 1;
      while (i < command.length && command[i] !== '"') {
        const d = command[i] as string;
        if (d === '\\' && i + 1 < command.length && '"\\$`'.includes(command[i + 1] as string)) {
          current += command[i + 1];
          i += 2;
        } else if (d === '$') {
          const match = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(command.slice(i));
          if (!match) throw new Error(`unsupported $ expansion in: ${command}`);
          current += variable((match[1] ?? match[2]) as string);
          i += match[0].length;
        } else {
          current += d;
          i += 1;
        }
      }
      if (i >= command.length) throw new Error(`unterminated " in: ${command}`);
      inWord = true;
    } else if (c === '\\' && command[i + 1] === '\n') {
      i += 1;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else if (c === '$') {
      throw new Error(`unquoted $ in: ${command}`);
    } else if (c === '|' || c === ';' || c === '&' || c === '<' || c === '>' || c === '`') {
      throw new Error(`unquoted ${c} in: ${command}`);
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** Splits a shell script into commands at newlines outside quotes; backslash-newline continues a command. */
export function shellCommands(script: string): string[] {
  const commands: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (let i = 0; i < script.length; i += 1) {
    const c = script[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') {
        current += c + (script[i + 1] ?? '');
        i += 1;
        continue;
      }
      current += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      current += c;
    } else if (c === '\\' && script[i + 1] === '\n') {
      current += ' ';
      i += 1;
    } else if (c === '\n') {
      commands.push(current);
      current = '';
    } else current += c;
  }
  if (current.trim()) commands.push(current);
  return commands;
}

/** Splits a command at the `|` of a pipeline (outside quotes). */
export function pipelineStages(command: string): string[] {
  const stages: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (let i = 0; i < command.length; i += 1) {
    const c = command[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') {
        current += c + (command[i + 1] ?? '');
        i += 1;
        continue;
      }
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '|') {
      if (command[i + 1] === '|') throw new Error(`|| is not supported in: ${command}`);
      stages.push(current.trim());
      current = '';
      continue;
    }
    current += c;
  }
  stages.push(current.trim());
  if (stages.some((stage) => stage === '')) throw new Error(`empty pipeline stage in: ${command}`);
  return stages;
}

/** `NAME=$(command)` or `NAME=word`; undefined for anything else. */
export function parseAssignment(command: string): { name: string; substitution?: string; word?: string } | undefined {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)=([\s\S]*)$/.exec(command.trim());
  if (!match) return undefined;
  const name = match[1] as string;
  const value = match[2] as string;
  const substitution = /^\$\(([\s\S]*)\)$/.exec(value);
  if (substitution) return { name, substitution: (substitution[1] as string).trim() };
  if (value.startsWith('$(')) throw new Error(`unterminated $( in: ${command}`);
  return { name, word: value };
}

/**
 * A jq filter limited to paths (`.`, `.data.checkout.orders[0].id`), applied
 * as jq would: a missing key or index yields null.
 */
export function applyJqPath(filter: string, input: unknown): unknown {
  if (filter === '.') return input;
  if (!/^(?:\.[A-Za-z_][A-Za-z0-9_]*|\.?\[\d+\])+$/.test(filter) || !filter.startsWith('.')) {
    throw new Error(`jq filter not understood by this test: ${filter}`);
  }
  let value: unknown = input;
  for (const segment of filter.matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)|\.?\[(\d+)\]/g)) {
    if (value === null || value === undefined) return null;
    if (segment[1] !== undefined) {
      if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`jq: cannot index ${JSON.stringify(value)} with "${segment[1]}"`);
      value = (value as Record<string, unknown>)[segment[1]];
    } else {
      if (!Array.isArray(value)) throw new Error(`jq: cannot index ${JSON.stringify(value)} with a number`);
      value = value[Number(segment[2])];
    }
  }
  return value ?? null;
}

export interface CurlRequest {
  url: URL;
  init: RequestInit & { headers: Record<string, string> };
  /** `-i`: the reader sees the status line and headers before the body. */
  includeHeaders: boolean;
}

/**
 * The fetch call a curl command makes; only the options the docs use are
 * understood. The URL must start with `baseUrl` (what `$API` holds): an
 * example with a hard-coded address is refused.
 */
export function toRequest(words: string[], baseUrl: string): CurlRequest {
  if (words[0] !== 'curl') throw new Error(`not a curl command: ${words.join(' ')}`);
  const headers: Record<string, string> = {};
  const data: string[] = [];
  const urlEncoded: string[] = [];
  let get = false;
  let method: string | undefined;
  let includeHeaders = false;
  let url: string | undefined;
  for (let i = 1; i < words.length; i += 1) {
    const word = words[i] as string;
    const next = () => {
      i += 1;
      const value = words[i];
      if (value === undefined) throw new Error(`${word} needs a value`);
      return value;
    };
    if (word === '-s') continue;
    if (word === '-i') includeHeaders = true;
    else if (word === '-G') get = true;
    else if (word === '-X') method = next();
    else if (word === '-H') {
      const header = next();
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (word === '-d') data.push(next());
    else if (word === '--data-urlencode') {
      const value = next();
      const eq = value.indexOf('=');
      urlEncoded.push(`${value.slice(0, eq)}=${encodeURIComponent(value.slice(eq + 1))}`);
    } else if (word === baseUrl || word.startsWith(`${baseUrl}/`)) url = word;
    else throw new Error(`curl option not understood by this test (URLs are written "$API/..."): ${word}`);
  }
  if (!url) throw new Error(`no "$API/..." URL in: ${words.join(' ')}`);
  const target = new URL(url);
  if (get || (data.length === 0 && urlEncoded.length === 0)) {
    for (const pair of urlEncoded) target.search += `${target.search ? '&' : ''}${pair}`;
    return { url: target, init: { method: method ?? 'GET', headers }, includeHeaders };
  }
  return {
    url: target,
    init: { method: method ?? 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: data.join('&') },
    includeHeaders,
  };
}

/** An answer shown after an example: `HTTP/1.1 <status>`, header lines up to `...`, then optionally the body. */
export interface ShownHttpAnswer {
  status: number;
  headers: Array<[string, string]>;
  body: string;
}

export function parseShownHttpAnswer(text: string): ShownHttpAnswer | undefined {
  const lines = text.split('\n');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '');
  if (!status) return undefined;
  const headers: Array<[string, string]> = [];
  let i = 1;
  for (; i < lines.length && lines[i] !== '...' && lines[i] !== ''; i += 1) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon < 1) throw new Error(`not a header line in a shown answer: ${line}`);
    headers.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { status: Number(status[1]), headers, body: lines.slice(i + 1).join('\n').trim() };
}

/**
 * Where an answer differs from the shape the docs show for it. The shape
 * is the answer with room for what changes between runs:
 * - an object lists the keys that matter (the answer may have more);
 * - an array has exactly the elements shown;
 * - `"<...>"` stands for any string or number, `"$NAME"` for the value of a
 *   shell variable; everything else must be equal.
 */
export function shapeMismatches(actual: unknown, shape: unknown, variable: (name: string) => string | undefined, at = '$'): string[] {
  if (typeof shape === 'string' && /^<[^>]*>$/.test(shape)) {
    return (typeof actual === 'string' && actual !== '') || typeof actual === 'number' ? [] : [`${at}: expected ${shape}, got ${JSON.stringify(actual)}`];
  }
  if (typeof shape === 'string' && /^\$[A-Za-z_][A-Za-z0-9_]*$/.test(shape)) {
    const value = variable(shape.slice(1));
    if (value === undefined) return [`${at}: ${shape} is not set`];
    return (typeof actual === 'string' || typeof actual === 'number') && String(actual) === value
      ? []
      : [`${at}: expected ${shape} (${value}), got ${JSON.stringify(actual)}`];
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(actual) || actual.length !== shape.length) {
      return [`${at}: expected ${shape.length} element(s), got ${JSON.stringify(actual)}`];
    }
    return shape.flatMap((element, index) => shapeMismatches(actual[index], element, variable, `${at}[${index}]`));
  }
  if (shape !== null && typeof shape === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return [`${at}: expected an object, got ${JSON.stringify(actual)}`];
    const record = actual as Record<string, unknown>;
    return Object.entries(shape).flatMap(([key, value]) =>
      key in record ? shapeMismatches(record[key], value, variable, `${at}.${key}`) : [`${at}.${key}: missing`],
    );
  }
  return Object.is(actual, shape) ? [] : [`${at}: expected ${JSON.stringify(shape)}, got ${JSON.stringify(actual)}`];
}

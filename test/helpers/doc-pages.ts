/**
 * Reading documentation pages for the docs test (test/docs-examples.test.ts):
 * fenced blocks, the shell steps and shown answers of a page, the shell that
 * runs them against a test server, and the checks of each answer.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { expect } from '@jest/globals';

import { projectRoot } from '../../src/util/project-root.js';
import {
  applyJqPath,
  parseAssignment,
  parseShownHttpAnswer,
  pipelineStages,
  shapeMismatches,
  shellCommands,
  shellWords,
  toRequest,
  type ShownHttpAnswer,
} from './doc-shell.js';

/** The metrics token the docs' test server is started with (docs show it). */
export const METRICS_TOKEN = 'docs-metrics-token-0123456789';
/** What `$API` is when a page does not set it. */
export const DEFAULT_API = 'http://localhost:4000';

export interface FencedBlock {
  /** The first word of the info string: `sh`, `json`, `graphql`, or '' for a plain block. */
  lang: string;
  /** The rest of the info string, e.g. `no-run` or `relay.config.json`. */
  flags: string[];
  text: string;
  /** Line of the opening fence (1-based). */
  line: number;
  /** Only blank lines between the previous block's closing fence and this one. */
  followsDirectly: boolean;
}

export function fencedBlocks(markdown: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  let open: { info: string; line: number; lines: string[]; followsDirectly: boolean } | undefined;
  let onlyBlankSinceLast = false;
  markdown.split('\n').forEach((line, index) => {
    if (open) {
      if (line.startsWith('```')) {
        const [lang = '', ...flags] = open.info.split(/\s+/).filter((word) => word !== '');
        blocks.push({ lang, flags, text: open.lines.join('\n') + '\n', line: open.line, followsDirectly: open.followsDirectly });
        open = undefined;
        onlyBlankSinceLast = true;
      } else open.lines.push(line);
    } else if (line.startsWith('```')) {
      open = { info: line.slice(3).trim(), line: index + 1, lines: [], followsDirectly: onlyBlankSinceLast };
    } else if (line.trim() !== '') onlyBlankSinceLast = false;
  });
  if (open) throw new Error(`unclosed code fence at line ${open.line}`);
  return blocks;
}

export type ShownAnswer = { kind: 'json'; shape: unknown } | { kind: 'http'; shown: ShownHttpAnswer };

export interface ScriptStep {
  line: number;
  commands: string[];
  answer: ShownAnswer | undefined;
}

export interface DocPage {
  file: string;
  text: string;
  blocks: FencedBlock[];
  script: ScriptStep[];
}

export function readPage(file: string): DocPage {
  const text = readFileSync(path.join(projectRoot(), file), 'utf8');
  const blocks = fencedBlocks(text);
  const script: ScriptStep[] = [];
  blocks.forEach((block, index) => {
    if (block.lang !== 'sh' || block.flags.includes('no-run')) return;
    const following = blocks[index + 1];
    let answer: ShownAnswer | undefined;
    if (following?.followsDirectly && following.flags.length === 0) {
      if (following.lang === 'json') answer = { kind: 'json', shape: JSON.parse(following.text) as unknown };
      else if (following.lang === '') {
        const shown = parseShownHttpAnswer(following.text.trimEnd());
        if (shown) answer = { kind: 'http', shown };
      }
    }
    const commands = shellCommands(block.text)
      .map((command) => command.trim())
      .filter((command) => command !== '' && !command.startsWith('#'));
    script.push({ line: block.line, commands, answer });
  });
  return { file, text, blocks, script };
}


export interface CurlAnswer {
  label: string;
  path: string;
  includeHeaders: boolean;
  status: number;
  headers: Headers;
  text: string;
}

export interface AnswerBody {
  errors?: Array<{ message?: string; extensions?: { code?: string } }>;
  extensions?: { requestId?: string };
}

/** Values an answer provides for `NAME='<...>'` lines and `<a product id>`. */
export function capture(body: unknown, into: Map<string, string>): void {
  const visit = (value: unknown, key: string | undefined) => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, key);
      return;
    }
    if (value === null || typeof value !== 'object') {
      if (typeof value !== 'string') return;
      if (key === 'accessToken') into.set('TOKEN', value);
      if (key === 'plaintextKey') into.set('API_KEY', value);
      return;
    }
    const record = value as Record<string, unknown>;
    if (typeof record['id'] === 'string' && typeof record['title'] === 'string' && !into.has('<a product id>')) {
      into.set('<a product id>', record['id']);
    }
    for (const [k, v] of Object.entries(record)) visit(v, k);
  };
  visit(body, undefined);
}

/** Every `userErrors` list in the answer. */
export function userErrorsOf(body: unknown): unknown[] {
  const found: unknown[] = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'userErrors' && Array.isArray(v)) found.push(...(v as unknown[]));
        else visit(v);
      }
    }
  };
  visit(body);
  return found;
}

/** A page's shell: its variables, and the keyed requests it sent (to check replays). */
export class DocShell {
  readonly variables: Map<string, string>;
  readonly captured = new Map<string, string>();
  replays = 0;
  private readonly keyed = new Map<string, { requestBody: string; text: string }>();

  constructor(private readonly baseUrl: string) {
    this.variables = new Map([
      ['API', baseUrl],
      ['METRICS_TOKEN', METRICS_TOKEN],
    ]);
  }

  /** Runs one command line; the curl calls it made are appended to `answers`. */
  async run(command: string, label: string, answers: CurlAnswer[]): Promise<void> {
    const exported = command.startsWith('export ') ? command.slice('export '.length).trim() : command;
    const assignment = parseAssignment(exported);
    if (assignment?.word !== undefined) {
      const pasted = /^'(<[^']*>)'$/.exec(assignment.word);
      if (pasted) {
        // The reader pastes a value from an earlier answer here; the test has captured it.
        const value = this.captured.get(assignment.name);
        if (value === undefined) throw new Error(`${label}: no earlier answer provides ${assignment.name}`);
        this.variables.set(assignment.name, value);
        return;
      }
      const words = shellWords(assignment.word, this.lookup(label));
      if (words.length !== 1) throw new Error(`${label}: an assignment takes exactly one word`);
      if (assignment.name === 'API') {
        // The documented default stands for the test server.
        if (words[0] !== DEFAULT_API) throw new Error(`${label}: API is set to ${words[0]}, not the documented default ${DEFAULT_API}`);
        return;
      }
      this.variables.set(assignment.name, words[0] as string);
      return;
    }
    if (exported !== command) throw new Error(`${label}: export is only understood with NAME=word`);
    const output = await this.pipeline(assignment?.substitution ?? command, assignment !== undefined, label, answers);
    if (assignment) this.variables.set(assignment.name, output);
  }

  private lookup(label: string): (name: string) => string {
    return (name) => {
      const value = this.variables.get(name);
      if (value === undefined) throw new Error(`${label}: $${name} is not set by an earlier line of the page`);
      return value;
    };
  }

  private async pipeline(command: string, captured: boolean, label: string, answers: CurlAnswer[]): Promise<string> {
    const [first, ...filters] = pipelineStages(command);
    const productId = this.captured.get('<a product id>');
    const words = shellWords(first as string, this.lookup(label)).map((word) =>
      productId === undefined ? word : word.replace(/<a product id>/g, () => productId),
    );
    let output: string;
    if (words[0] === 'curl') {
      const request = toRequest(words, this.baseUrl);
      if (request.includeHeaders && (captured || filters.length > 0)) throw new Error(`${label}: the output of curl -i is for reading, not for jq`);
      const response = await fetch(request.url, request.init);
      output = await response.text();
      answers.push({ label, path: request.url.pathname, includeHeaders: request.includeHeaders, status: response.status, headers: response.headers, text: output });
      if (request.url.pathname === '/graphql') {
        try {
          capture(JSON.parse(output) as unknown, this.captured);
        } catch {
          // Not JSON: checkAnswers reports it.
        }
      }
      this.checkIdempotency(request.init.headers, typeof request.init.body === 'string' ? request.init.body : '', response, output, label);
    } else if (words[0] === 'printf' && words[1] === '%s\\n' && words.length === 3) {
      output = words[2] as string;
    } else if (words[0] === 'node' && words[1] === '-p' && words.length === 3) {
      // Run for real: the docs rely on the reader having Node.js, and so can the test.
      output = execFileSync(process.execPath, ['-p', words[2] as string], { encoding: 'utf8' }).replace(/\n+$/, '');
    } else {
      throw new Error(`${label}: command not understood by this test (mark the block \`sh no-run\` if it must not run): ${first}`);
    }
    for (const stage of filters) output = this.jq(shellWords(stage, this.lookup(label)), output, label);
    return output;
  }

  /** `jq [-r] <path>`; a path that finds nothing fails here rather than giving later steps the word `null`. */
  private jq(words: string[], input: string, label: string): string {
    const raw = words[1] === '-r';
    const filter = words[raw ? 2 : 1];
    if (words[0] !== 'jq' || filter === undefined || words.length !== (raw ? 3 : 2)) throw new Error(`${label}: pipeline stage not understood: ${words.join(' ')}`);
    let json: unknown;
    try {
      json = JSON.parse(input) as unknown;
    } catch {
      throw new Error(`${label}: jq got no JSON: ${input.slice(0, 400)}`);
    }
    const result = applyJqPath(filter, json);
    if (!raw) return JSON.stringify(result, null, 2);
    if (result === null) throw new Error(`${label}: jq -r '${filter}' found nothing in ${input.slice(0, 600)}`);
    return typeof result === 'string' ? result : JSON.stringify(result, null, 2);
  }

  /** A keyed request sent again must get the first answer back, byte for byte, marked as a replay. */
  private checkIdempotency(headers: Record<string, string>, requestBody: string, response: Response, text: string, label: string): void {
    const key = headers['idempotency-key'];
    if (key === undefined) return;
    const scope = `${headers['authorization'] ?? ''}\n${key}`;
    const first = this.keyed.get(scope);
    const replayed = response.headers.get('idempotent-replayed');
    if (first === undefined) {
      expect({ label, replayed }).toEqual({ label, replayed: null });
      this.keyed.set(scope, { requestBody, text });
    } else if (first.requestBody === requestBody) {
      expect({ label, replayed, text }).toEqual({ label, replayed: 'true', text: first.text });
      this.replays += 1;
    }
  }
}

/** Where the answers of one block differ from what the page says about them. */
export function checkAnswers(answers: CurlAnswer[], shown: ShownAnswer | undefined, variable: (name: string) => string | undefined): void {
  answers.forEach((answer, index) => {
    const context = `${answer.label}\n=> ${answer.status} ${answer.text.slice(0, 600)}`;
    if (answer.path === '/metrics') {
      expect({ context, status: answer.status, prometheus: answer.text.includes('# TYPE ') }).toEqual({ context, status: 200, prometheus: true });
      return;
    }
    const documented = index === answers.length - 1 && shown?.kind === 'http' ? shown.shown : undefined;
    if (answer.path.startsWith('/v1/')) {
      checkRestAnswer(answer, documented, context, variable);
      return;
    }
    const body = JSON.parse(answer.text) as AnswerBody;
    expect({ context, requestId: typeof body.extensions?.requestId }).toEqual({ context, requestId: 'string' });
    if (documented) {
      const headers = documented.headers.map(([name]) => [name, name === 'x-request-id' ? answer.headers.has(name) : answer.headers.get(name)]);
      expect({ context, status: answer.status, headers }).toEqual({
        context,
        status: documented.status,
        headers: documented.headers.map(([name, value]) => [name, name === 'x-request-id' ? true : value]),
      });
      expect({ context, hasErrors: (body.errors?.length ?? 0) > 0 }).toEqual({ context, hasErrors: documented.status >= 400 });
      const mismatches = documented.body === '' ? [] : shapeMismatches(body, JSON.parse(documented.body) as unknown, variable);
      expect({ context, mismatches }).toEqual({ context, mismatches: [] });
    } else {
      if (answer.includeHeaders) throw new Error(`${answer.label}: a curl -i example needs its HTTP answer shown after the block`);
      expect({ context, status: answer.status, errors: body.errors, userErrors: userErrorsOf(body) }).toEqual({
        context,
        status: 200,
        errors: undefined,
        userErrors: [],
      });
    }
  });
  if (shown?.kind === 'json') {
    const last = answers.at(-1);
    if (!last) throw new Error('an answer is shown after a block that sends no request');
    const mismatches = shapeMismatches(JSON.parse(last.text) as unknown, shown.shape, variable);
    expect({ context: last.label, mismatches }).toEqual({ context: last.label, mismatches: [] });
  }
}

/**
 * A REST answer (docs/guides/rest.md): a success is JSON without a request id in the body (it is in
 * X-Request-Id); a failure is a problem (application/problem+json) carrying `code` and `requestId`.
 * An answer not shown after its block must be 200.
 */
function checkRestAnswer(answer: CurlAnswer, documented: ShownHttpAnswer | undefined, context: string, variable: (name: string) => string | undefined): void {
  const body = (answer.text === '' ? {} : JSON.parse(answer.text)) as Record<string, unknown>;
  const problem = (answer.headers.get('content-type') ?? '').startsWith('application/problem+json');
  expect({ context, requestIdHeader: answer.headers.has('x-request-id'), problem, coded: problem ? [typeof body['code'], body['requestId'] === answer.headers.get('x-request-id')] : [] }).toEqual({
    context,
    requestIdHeader: true,
    problem: answer.status >= 400,
    coded: answer.status >= 400 ? ['string', true] : [],
  });
  if (!documented) {
    if (answer.includeHeaders) throw new Error(`${answer.label}: a curl -i example needs its HTTP answer shown after the block`);
    expect({ context, status: answer.status }).toEqual({ context, status: 200 });
    return;
  }
  const headers = documented.headers.map(([name]) => [name, answer.headers.get(name)]);
  expect({ context, status: answer.status, headers }).toEqual({ context, status: documented.status, headers: documented.headers });
  const mismatches = documented.body === '' ? [] : shapeMismatches(body, JSON.parse(documented.body) as unknown, variable);
  expect({ context, mismatches }).toEqual({ context, mismatches: [] });
}

/** Runs a page's script on `server`; the shell is returned for what the caller checks after. */

/**
 * Generates docs/reference/configuration.md and .env.example from the
 * declared variables (`npm run config:docs`); test/unit/config-reference.test.ts
 * fails when the committed files differ from what this produces.
 */
import { acceptedValues } from './coerce.js';
import { CROSS_FIELD_RULES } from './rules.js';
import { SECTIONS, type Section, type Variable } from './variable.js';
import { FILE_VARIABLES, LIBRARY_VARIABLES, VARIABLES, type VariableName } from './variables.js';

export const REFERENCE_PATH = 'docs/reference/configuration.md';
export const ENV_EXAMPLE_PATH = '.env.example';
export const REGENERATE_COMMAND = 'npm run config:docs';

const NAMES = Object.keys(VARIABLES) as VariableName[];

function inSection(section: Section): VariableName[] {
  return NAMES.filter((name) => VARIABLES[name].section === section);
}

/** What a variable accepts, from its schema or, where the range is computed, from its declaration. */
export function acceptsText(name: VariableName): string {
  const variable: Variable<unknown> = VARIABLES[name];
  const text = variable.accepts ?? (variable.fixedSchema === undefined ? undefined : acceptedValues.get(variable.fixedSchema)?.accepts);
  return text ?? 'any text';
}

/** The default as the reference states it. */
export function defaultText(name: VariableName): string {
  const variable: Variable<unknown> = VARIABLES[name];
  if (variable.defaultText !== undefined) return variable.defaultText;
  if (variable.fixedDefault === undefined || variable.fixedDefault === '') return 'unset';
  return `\`${variable.fixedDefault}\``;
}

function meaning(name: VariableName): string {
  const variable: Variable<unknown> = VARIABLES[name];
  return variable.fromFile ? `${variable.about} Or \`${name}_FILE\`, naming a file that holds it.` : variable.about;
}

const andList = (items: readonly string[]): string => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`);

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** The Markdown reference of every variable. */
export function renderReference(): string {
  const lines = [
    '# Configuration reference',
    '',
    `<!-- Generated from src/config/variables/ by \`${REGENERATE_COMMAND}\`: edit the declarations there, not this file. -->`,
    '',
    'All settings are environment variables, read and validated once at start-up by',
    '`src/config/config.ts`. An empty value counts as unset. Booleans accept `true`/`false`,',
    '`1`/`0`, `yes`/`no`, `on`/`off`. A bad value stops the process with a message naming',
    'every faulty variable at once (values that may hold secrets are never echoed). Nothing',
    'reads a `.env` file by itself: copy `.env.example` to `.env` and run',
    '`npx tsx --env-file=.env src/main.ts`, or export the variables.',
    '',
    'Secrets can come from files instead (Docker and Kubernetes secrets):',
    `${andList(FILE_VARIABLES.map((name) => `\`${name}_FILE\``))} name a file whose content`,
    '(a trailing newline removed) is the value. Setting both forms of one variable, or naming',
    'a file that cannot be read, stops the start.',
    '',
  ];
  for (const section of SECTIONS) {
    lines.push(`## ${section}`, '', '| variable | default | accepts | meaning |', '|---|---|---|---|');
    for (const name of inSection(section)) {
      lines.push(`| \`${name}\` | ${cell(defaultText(name))} | ${cell(acceptsText(name))} | ${cell(meaning(name))} |`);
    }
    lines.push('');
  }
  lines.push('## Rules across variables', '', 'Start-up also stops when a combination cannot work:', '');
  for (const rule of CROSS_FIELD_RULES) lines.push(`- ${rule.summary}`);
  lines.push(
    '',
    '## Read by libraries',
    '',
    'The server hands these to the OpenTelemetry SDK and exporters, which read them',
    'themselves; it does not check them.',
    '',
    '| variable | meaning |',
    '|---|---|',
  );
  for (const variable of LIBRARY_VARIABLES) lines.push(`| \`${variable.name}\` | ${cell(variable.about)} |`);
  lines.push('', 'The test suite reads variables of its own (such as `TEST_DATABASE_URL`), described with the tests.', '');
  return lines.join('\n');
}

/** Comment lines of at most `width` characters. */
function comment(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.replace(/`/g, '').split(/\s+/)) {
    if (line.length + 1 + word.length > width && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}

/** .env.example: every variable, commented out, with its meaning. */
export function renderEnvExample(): string {
  const lines = [
    `# marketplace-api configuration. Generated from src/config/variables/ by \`${REGENERATE_COMMAND}\`;`,
    `# ${REFERENCE_PATH} describes each variable.`,
    '#',
    '# Nothing loads this file automatically. Copy it to .env (git-ignored) and',
    '# pass it to Node, e.g.',
    '#   npx tsx --env-file=.env src/main.ts',
    '#   node --env-file=.env dist/src/main.js',
    '# or export the variables in your shell. Empty values count as unset.',
    `# Secrets may instead come from files: ${andList(FILE_VARIABLES.map((name) => `${name}_FILE`))}`,
    '# name a file holding the value.',
    '# Lines left commented out use the default.',
  ];
  for (const section of SECTIONS) {
    lines.push('', `# --- ${section} ${'-'.repeat(Math.max(3, 72 - section.length))}`);
    for (const name of inSection(section)) {
      const variable: Variable<unknown> = VARIABLES[name];
      lines.push('', ...comment(`${meaning(name)} Accepts ${acceptsText(name)}; default: ${defaultText(name)}.`));
      lines.push(`# ${name}=${variable.example ?? variable.fixedDefault ?? ''}`);
    }
  }
  lines.push('', `# --- Read by the OpenTelemetry SDK ${'-'.repeat(40)}`);
  for (const variable of LIBRARY_VARIABLES) {
    if (variable.name.endsWith('*')) continue;
    lines.push('', ...comment(variable.about), `# ${variable.name}=${variable.example ?? ''}`);
  }
  lines.push('');
  return lines.join('\n');
}

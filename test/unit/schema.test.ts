import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
  isTypeDefinitionNode,
  isTypeExtensionNode,
  parse,
} from 'graphql';

import { buildSchema } from '../../src/graphql/schema.js';
import {
  CHANGELOG_PATH,
  describeChange,
  missingFromChangelog,
  printCurrentSchema,
  readAcknowledged,
  readSnapshot,
  schemaChanges,
} from '../../src/graphql/schema-snapshot.js';
import { projectRoot } from '../../src/util/project-root.js';

describe('schema evolution', () => {
  it('matches the committed snapshot docs/schema.graphql (run `npm run schema:snapshot` after an SDL change)', async () => {
    const snapshot = readSnapshot();
    const current = printCurrentSchema();
    if (snapshot !== undefined && snapshot !== current) {
      const changes = await schemaChanges(snapshot, current);
      // Shown on failure: every change with its class, and the breaking or dangerous ones CHANGELOG.md does not name yet.
      expect({
        changes: changes.map(describeChange),
        needChangelogLine: missingFromChangelog(changes, readFileSync(CHANGELOG_PATH, 'utf8')),
        snapshotIsCurrent: false,
      }).toEqual({ changes: [], needChangelogLine: [], snapshotIsCurrent: true });
    }
    expect(snapshot).toBe(current);
  });

  it('has a CHANGELOG.md line for every breaking or dangerous change the snapshot recorded (docs/schema-changes.json)', () => {
    expect(missingFromChangelog(readAcknowledged(), readFileSync(CHANGELOG_PATH, 'utf8'))).toEqual([]);
  });

  it('classifies a removed field as breaking, a new enum value as dangerous and a new field as safe', async () => {
    const current = printCurrentSchema();
    const withoutTitle = current.replace(/\n\s+"""Short name, 1 to 200 characters\."""\n\s+title: String!\n/, '\n');
    expect(withoutTitle).not.toBe(current);
    expect(await schemaChanges(current, withoutTitle)).toEqual([
      { id: 'FIELD_REMOVED Product.title', level: 'breaking', message: "Field 'title' was removed from object type 'Product'" },
    ]);
    const grown = `${current}\nenum ExtraState {\n  A\n}\n`.replace(/enum ProductStatus \{\n/, 'enum ProductStatus {\n  PAUSED\n');
    const levels = (await schemaChanges(current, grown)).map((change) => [change.id, change.level]);
    expect(levels).toEqual(expect.arrayContaining([['ENUM_VALUE_ADDED ProductStatus.PAUSED', 'dangerous'], ['TYPE_ADDED ExtraState', 'safe']]));
  });

  it('asks a CHANGELOG line naming the id of each breaking or dangerous change, not of safe ones', () => {
    const changes = [
      { id: 'FIELD_REMOVED Product.title', level: 'breaking' as const },
      { id: 'ENUM_VALUE_ADDED ProductStatus.PAUSED', level: 'dangerous' as const },
      { id: 'TYPE_ADDED ExtraState', level: 'safe' as const },
    ];
    expect(missingFromChangelog(changes, '- `FIELD_REMOVED Product.title`: use `name`.')).toEqual(['ENUM_VALUE_ADDED ProductStatus.PAUSED']);
  });
});

describe('schema documentation', () => {
  it('describes every type, field, argument, input field and enum value', () => {
    const schema = buildSchema();
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || (isScalarType(type) && isSpecifiedScalarType(type))) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of field.args) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
        }
      }
      if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) if (!field.description) missing.push(`${type.name}.${field.name}`);
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('schema files', () => {
  const dir = path.join(projectRoot(), 'schema');
  const files = readdirSync(dir).filter((file) => file.endsWith('.graphql'));

  /** Every `extend type X` that comes before X's definition when the files are read one by one in `order`. */
  function extensionsBeforeDefinition(order: string[]): string[] {
    const defined = new Set<string>();
    const problems: string[] = [];
    for (const file of order) {
      const document = parse(readFileSync(path.join(dir, file), 'utf8'));
      for (const definition of document.definitions) {
        if (isTypeDefinitionNode(definition)) defined.add(definition.name.value);
      }
      for (const definition of document.definitions) {
        if (isTypeExtensionNode(definition) && !defined.has(definition.name.value)) problems.push(`${file}: extend type ${definition.name.value}`);
      }
    }
    return problems;
  }

  it('defines every type a file extends in a file read before it, in byte order and in locale order (as Relay compiler reads schemaDir)', () => {
    const byteOrder = [...files].sort();
    const localeOrder = [...files].sort((a, b) => a.localeCompare(b, 'en'));
    expect(extensionsBeforeDefinition(byteOrder)).toEqual([]);
    expect(extensionsBeforeDefinition(localeOrder)).toEqual([]);
  });

  it('defines the root types Query and Mutation in schema/0-base.graphql only; modules extend them', () => {
    const definedIn = files.filter((file) =>
      parse(readFileSync(path.join(dir, file), 'utf8')).definitions.some(
        (definition) => isTypeDefinitionNode(definition) && ['Query', 'Mutation'].includes(definition.name.value),
      ),
    );
    expect(definedIn).toEqual(['0-base.graphql']);
  });
});

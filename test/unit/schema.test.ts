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
import { breakingChanges, printCurrentSchema, readSnapshot } from '../../src/graphql/schema-snapshot.js';
import { projectRoot } from '../../src/util/project-root.js';

describe('schema evolution', () => {
  it('matches the committed snapshot docs/schema.graphql (run `npm run schema:snapshot` after an SDL change)', () => {
    const snapshot = readSnapshot();
    const current = printCurrentSchema();
    if (snapshot !== undefined && snapshot !== current) {
      const breaking = breakingChanges(snapshot, current).map((c) => `${c.type}: ${c.description}`);
      // Shown on failure: what would break clients if this change shipped.
      expect({ breakingChanges: breaking, snapshotIsCurrent: false }).toEqual({ breakingChanges: [], snapshotIsCurrent: true });
    }
    expect(snapshot).toBe(current);
  });

  it('reports a removed field as a breaking change', () => {
    const current = printCurrentSchema();
    const withoutTitle = current.replace(/\n\s+"""Short name, 1 to 200 characters\."""\n\s+title: String!\n/, '\n');
    expect(withoutTitle).not.toBe(current);
    expect(breakingChanges(current, withoutTitle).map((c) => c.description)).toEqual(['Product.title was removed.']);
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

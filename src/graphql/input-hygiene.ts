/**
 * One policy for every string a client sends as a GraphQL argument, applied
 * once at the edge instead of in each resolver: control characters (Unicode
 * category Cc) other than tab and line breaks (LF, CR) are refused with
 * BAD_USER_INPUT naming the argument. It is the plain-text policy's rule for
 * multi-line text (src/validation/plain-text.ts), so no field can ever
 * receive more; single-line fields refuse line breaks and tabs themselves. NUL in particular: PostgreSQL cannot store it in text
 * and would fail the statement ("invalid byte sequence"), and the rest
 * (escape, backspace, DEL, C1 controls) only serve to disguise
 * text in logs, terminals and other people's screens.
 *
 * Every string is checked, whatever its type (String, ID, EmailAddress, a
 * string inside a list or a nested input object), so a new argument is
 * covered the day it is added. Field-level rules (lengths, formats) stay in
 * the services and build on this.
 *
 * Two halves, because a string reaches an argument in two ways:
 * - literals in the document (`search(text: "a\u0000")`): `inputHygieneRule`,
 *   a validation rule, before anything runs;
 * - variables (`search(text: $text)`): `inputHygienePlugin`, once the
 *   operation is known and before variables are coerced or anything executes.
 *
 * The argument is named as a dotted path from the field argument, e.g.
 * `input.email`, `filter.search` or `ids.2` (the third element of a list).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  visit,
  type ASTNode,
  type ArgumentNode,
  type DocumentNode,
  type ValidationRule,
  type ValueNode,
} from 'graphql';

import { badUserInput } from '../errors/errors.js';
import { findControlCharacter } from '../validation/plain-text.js';
import type { GraphQLContext } from './context.js';

type PathSegment = string | number;

interface Violation {
  argument: string;
  codePoint: number;
}

function violationIn(value: string, path: readonly PathSegment[]): Violation | undefined {
  const found = findControlCharacter(value, 'multi-line');
  if (found === null) return undefined;
  return { argument: path.join('.'), codePoint: found.codePointAt(0) ?? 0 };
}

function message({ argument, codePoint }: Violation): string {
  const hex = codePoint.toString(16).toUpperCase().padStart(4, '0');
  return `\`${argument}\` contains a control character (U+${hex}); only tab and line breaks are allowed in text.`;
}

/** A JSON value from the request's `variables`, walked for strings. */
function findInJson(value: unknown, path: readonly PathSegment[], depth = 0): Violation | undefined {
  // Deeper than any input type here; the operation's own limits refuse such documents anyway.
  if (depth > 64) return undefined;
  if (typeof value === 'string') return violationIn(value, path);
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findInJson(item, [...path, index], depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const found = findInJson(item, [...path, key], depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * The first forbidden string in an argument's value: its literals, and the
 * values of the variables it uses when `variables` is given.
 */
function findInValue(
  node: ValueNode,
  path: readonly PathSegment[],
  variables: Readonly<Record<string, unknown>> | undefined,
): Violation | undefined {
  switch (node.kind) {
    case Kind.STRING:
      return variables === undefined ? violationIn(node.value, path) : undefined;
    case Kind.LIST:
      for (const [index, item] of node.values.entries()) {
        const found = findInValue(item, [...path, index], variables);
        if (found) return found;
      }
      return undefined;
    case Kind.OBJECT:
      for (const field of node.fields) {
        const found = findInValue(field.value, [...path, field.name.value], variables);
        if (found) return found;
      }
      return undefined;
    case Kind.VARIABLE:
      return variables === undefined ? undefined : findInJson(variables[node.name.value], path);
    default:
      return undefined;
  }
}

/** Validation rule: string literals in arguments (and in variables' default values). */
export const inputHygieneRule: ValidationRule = (context) => {
  const report = (violation: Violation, node: ASTNode) => {
    const text = message(violation);
    // Apollo reports validation errors as GRAPHQL_VALIDATION_FAILED; formatError
    // gives this one back its own code from the original error.
    context.reportError(
      new GraphQLError(text, { nodes: node, originalError: badUserInput(violation.argument, text) }),
    );
  };
  return {
    Argument(node) {
      const found = findInValue(node.value, [node.name.value], undefined);
      if (found) report(found, node);
      return false;
    },
    VariableDefinition(node) {
      if (!node.defaultValue) return false;
      const found = findInValue(node.defaultValue, [`$${node.variable.name.value}`], undefined);
      if (found) report(found, node);
      return false;
    },
  };
};

/** Arguments of the operation to run and of the fragments (any of which it may spread). */
function argumentsOf(document: DocumentNode, operationName: string | null): ArgumentNode[] {
  const found: ArgumentNode[] = [];
  for (const definition of document.definitions) {
    const isOperation = definition.kind === Kind.OPERATION_DEFINITION;
    if (isOperation && operationName !== null && definition.name?.value !== operationName) continue;
    if (!isOperation && definition.kind !== Kind.FRAGMENT_DEFINITION) continue;
    visit(definition, {
      Argument(node) {
        found.push(node);
        return false;
      },
    });
  }
  return found;
}

/** Apollo plugin: strings in the request's variables, named by the argument that uses them. */
export function inputHygienePlugin(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operationName }) {
          const variables = request.variables;
          if (!variables || Object.keys(variables).length === 0) return;
          for (const argument of argumentsOf(document, operationName)) {
            const found = findInValue(argument.value, [argument.name.value], variables);
            if (found) throw badUserInput(found.argument, message(found));
          }
        },
      };
    },
  };
}

/**
 * The GraphQL side of observability: spans for the operation and its parse,
 * validate and execute phases (SQL spans hang under execute), and the
 * operation duration histogram.
 */
import { performance } from 'node:perf_hooks';

import type { ApolloServerPlugin } from '@apollo/server';
import { SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { Kind, type OperationDefinitionNode } from 'graphql';

import { observeOperation } from './metrics.js';
import { spanHolder, tracer } from './tracing.js';

/**
 * The operation's metric label: "<type> <root field>" when it selects one
 * root field (bounded by the schema: the document passed validation), else
 * "<type> multiple"; "other" when no operation was resolved. Client-chosen
 * operation names are never labels: they are unbounded.
 */
export function operationLabel(operation: OperationDefinitionNode | undefined | null): string {
  if (!operation) return 'other';
  const fields = new Set<string>();
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) return `${operation.operation} multiple`;
    fields.add(selection.name.value);
  }
  const [only] = fields;
  return fields.size === 1 && only !== undefined ? `${operation.operation} ${only}` : `${operation.operation} multiple`;
}

function fail(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

export function observabilityPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      const started = performance.now();
      const parent = context.active();
      const holder = spanHolder(parent);
      const operationSpan = tracer().startSpan('graphql.operation', {}, parent);
      const operationContext = trace.setSpan(parent, operationSpan);
      const child = (name: string) => tracer().startSpan(name, {}, operationContext);
      let label = 'other';

      return {
        async parsingDidStart() {
          const span = child('graphql.parse');
          return async (error) => {
            if (error) fail(span, error);
            span.end();
          };
        },
        async validationDidStart() {
          const span = child('graphql.validate');
          return async (errors) => {
            if (errors?.length) fail(span, errors[0]);
            span.end();
          };
        },
        async didResolveOperation({ operation, operationName }) {
          if (!operation) return;
          label = operationLabel(operation);
          operationSpan.updateName(operationName ? `${operation.operation} ${operationName}` : label);
          operationSpan.setAttribute('graphql.operation.type', operation.operation);
          if (operationName) operationSpan.setAttribute('graphql.operation.name', operationName);
        },
        async executionDidStart() {
          const span = child('graphql.execute');
          if (holder) holder.span = span;
          return {
            async executionDidEnd(error) {
              if (error) fail(span, error);
              span.end();
              if (holder?.span === span) holder.span = undefined;
            },
          };
        },
        async willSendResponse({ response }) {
          const hasErrors = response.body.kind === 'single' && (response.body.singleResult.errors?.length ?? 0) > 0;
          if (hasErrors) operationSpan.setStatus({ code: SpanStatusCode.ERROR });
          operationSpan.end();
          observeOperation(label, hasErrors ? 'error' : 'ok', (performance.now() - started) / 1000);
        },
      };
    },
  };
}

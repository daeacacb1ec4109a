/**
 * The one registry of request-level error codes (`errors[].extensions.code`).
 * docs/reference/errors.md lists the same codes; a test keeps the two in step.
 *
 * `status` is the HTTP status used when a response carries no data and this
 * is its first error (GraphQL over HTTP, application/graphql-response+json).
 * `level` is how loudly the server logs an occurrence.
 */
export const errorCodes = {
  BAD_REQUEST: {
    status: 400,
    level: 'info',
    message: 'The HTTP request is malformed: check the method, headers and JSON body.',
  },
  NOT_FOUND: { status: 404, level: 'info', message: 'No such route. GraphQL is served at /graphql.' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    level: 'info',
    message: 'This method is not allowed here: /graphql accepts GET (queries only) and POST.',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    level: 'info',
    message: 'The request was not received in time; send the whole request promptly.',
  },
  PAYLOAD_TOO_LARGE: { status: 413, level: 'info', message: 'The request body is larger than this server accepts.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    level: 'info',
    message: 'Unsupported Content-Type: send the GraphQL request as application/json.',
  },
  REQUEST_HEADER_FIELDS_TOO_LARGE: {
    status: 431,
    level: 'info',
    message: 'The request headers are larger than this server accepts.',
  },
  GRAPHQL_PARSE_FAILED: { status: 400, level: 'info', message: 'The GraphQL document could not be parsed.' },
  GRAPHQL_VALIDATION_FAILED: {
    status: 400,
    level: 'info',
    message: 'The GraphQL document is not valid against the schema.',
  },
  OPERATION_RESOLUTION_FAILURE: {
    status: 400,
    level: 'info',
    message: 'The operation to run could not be determined: check operationName.',
  },
  BAD_USER_INPUT: { status: 400, level: 'info', message: 'An argument or variable is invalid.' },
  PERSISTED_QUERY_NOT_SUPPORTED: {
    status: 400,
    level: 'info',
    message: 'Automatic persisted queries are not enabled on this server; send the full query.',
  },
  PERSISTED_QUERY_NOT_FOUND: {
    status: 200,
    level: 'info',
    message: 'No document is stored under this hash; send the query together with its hash.',
  },
  DOCUMENT_NOT_TRUSTED: {
    status: 400,
    level: 'warn',
    message: 'This server runs only its trusted documents; send the sha256 hash of a listed document.',
  },
  SUBSCRIPTION_NOT_SUPPORTED: {
    status: 400,
    level: 'info',
    message:
      'Subscriptions are not served over plain HTTP: open a WebSocket to /graphql (graphql-transport-ws) or POST to /graphql/stream with Accept: text/event-stream (Server-Sent Events).',
  },
  SUBSCRIPTION_NOT_FOUND: {
    status: 404,
    level: 'info',
    message: 'Nothing with this id is visible to you: a missing object and one you may not see are refused alike.',
  },
  SUBSCRIPTION_LIMIT_REACHED: {
    status: 429,
    level: 'warn',
    message: 'Too many live subscriptions or connections: end some before opening more.',
  },
  SUBSCRIPTION_TOO_SLOW: {
    status: 429,
    level: 'warn',
    message: 'The subscription fell too far behind the changes it follows and was dropped; subscribe again.',
  },
  UNAUTHENTICATED: { status: 401, level: 'info', message: 'Authentication is required, or the credentials are invalid.' },
  FORBIDDEN: { status: 200, level: 'warn', message: 'You are not allowed to perform this operation.' },
  IDEMPOTENCY_KEY_REQUIRED: {
    status: 400,
    level: 'info',
    message: 'This mutation requires an Idempotency-Key header.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    level: 'warn',
    message: 'This Idempotency-Key was already used with a different request.',
  },
  IDEMPOTENCY_KEY_IN_PROGRESS: {
    status: 409,
    level: 'info',
    message: 'A request with this Idempotency-Key is still running; retry later.',
  },
  WEBHOOK_SIGNATURE_INVALID: {
    status: 401,
    level: 'warn',
    message: 'The webhook signature is missing or does not match: sign `id.timestamp.body` with the shared secret (Standard Webhooks).',
  },
  WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE: {
    status: 401,
    level: 'warn',
    message: 'The webhook-timestamp header is more than 5 minutes away from the server clock; sign the message again with the current time.',
  },
  WEBHOOK_PAYLOAD_INVALID: {
    status: 400,
    level: 'warn',
    message: 'The webhook body is not a valid payment event.',
  },
  PAYMENT_WEBHOOK_NOT_CONFIGURED: {
    status: 503,
    level: 'warn',
    message: 'Payment webhooks are not configured on this server (PAYMENT_WEBHOOK_SECRET is unset); retry later.',
  },
  RATE_LIMITED: { status: 429, level: 'warn', message: 'Rate limit exceeded; retry after the Retry-After delay.' },
  QUERY_TOO_COMPLEX: { status: 400, level: 'warn', message: 'The query exceeds the depth, alias, directive, token, size or cost limits.' },
  SERVICE_UNAVAILABLE: { status: 503, level: 'error', message: 'The service is temporarily unavailable; retry later.' },
  INTERNAL_SERVER_ERROR: {
    status: 500,
    level: 'error',
    message: 'An unexpected error occurred. Quote the request id when reporting it.',
  },
} as const satisfies Record<string, { status: number; level: 'info' | 'warn' | 'error'; message: string }>;

export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value);
}

/** Who may call and how much: tokens, login limits, query limits and budgets (and the Redis they share), trusted documents. */
import { boolean, integer, json, text, url } from '../coerce.js';
import { optional, setting } from '../variable.js';

export const SECURITY_VARIABLES = {
  // --- Authentication
  JWT_ISSUER: setting({ section: 'Authentication', schema: text(), default: 'marketplace-api', about: '`iss` of the access tokens the server signs.' }),
  JWT_AUDIENCE: setting({
    section: 'Authentication',
    schema: text(),
    default: 'marketplace-api',
    about: '`aud` of the access tokens the server signs and accepts.',
  }),
  JWT_SIGNING_KEYS: optional({
    section: 'Authentication',
    schema: json(),
    fromFile: true,
    example: '{"keys":[...]}',
    about:
      'JWK set (JSON, one line) of private signing keys; the last key signs, all verify. Required when `NODE_ENV=production`; generate one with `npm run -s keys:generate`.',
  }),
  JWT_KEY_FILE: setting({
    section: 'Authentication',
    schema: text(),
    default: '.data/jwt-signing-keys.json',
    about: 'Where development keeps a generated key pair when `JWT_SIGNING_KEYS` is unset.',
  }),
  ACCESS_TOKEN_TTL_SECONDS: setting({
    section: 'Authentication',
    schema: integer(60, 86_400),
    default: 900,
    about:
      'Lifetime of an access token. A token claiming a longer one is refused, so lowering it also refuses tokens issued before under the longer lifetime: their clients refresh.',
  }),
  REFRESH_TOKEN_TTL_DAYS: setting({ section: 'Authentication', schema: integer(1, 365), default: 30, about: 'Lifetime of a refresh token, in days.' }),
  OIDC_ISSUER: optional({
    section: 'Authentication',
    schema: text(),
    example: 'https://id.example.com/realms/marketplace',
    about: 'Issuer of an external OpenID Connect provider whose tokens are accepted. Set all three `OIDC_*` variables or none.',
  }),
  OIDC_AUDIENCE: optional({
    section: 'Authentication',
    schema: text(),
    example: 'marketplace-api',
    about: 'Audience those tokens must carry.',
  }),
  OIDC_JWKS_URL: optional({
    section: 'Authentication',
    schema: url(['https:', 'http:']),
    example: 'https://id.example.com/realms/marketplace/protocol/openid-connect/certs',
    about: 'URL of the provider\'s JWK set.',
  }),

  // --- Redis
  REDIS_URL: optional({
    section: 'Redis',
    schema: url(['redis:', 'rediss:']),
    fromFile: true,
    example: 'redis://127.0.0.1:6379',
    about:
      'Redis shared by the server instances: log-in limits, query-cost budgets and, by default, the response cache. If Redis becomes unreachable or stops answering, the server keeps serving with per-instance in-memory budgets, without the Redis response cache, and logs one warning.',
  }),
  REDIS_COMMAND_TIMEOUT_MS: setting({
    section: 'Redis',
    schema: integer(50, 60_000),
    default: 1_000,
    about:
      'How long a Redis command waits for its answer, in ms. The first command that waits it out opens the Redis circuit breaker: until Redis answers a probe again, no request waits for Redis.',
  }),

  // --- Login limits
  LOGIN_LIMIT_PER_EMAIL_IP: setting({
    section: 'Login limits',
    schema: integer(1, 10_000),
    default: 10,
    about: 'Failed login, sign-up and password-change attempts per (email, IP) per 15 minutes before that email is refused from that IP.',
  }),
  LOGIN_LIMIT_PER_IP: setting({
    section: 'Login limits',
    schema: integer(1, 1_000_000),
    default: 100,
    about: 'Failed attempts per IP per hour, all emails together, before the IP is blocked for credential stuffing. Successes never count.',
  }),

  // --- Query limits and cost budgets
  QUERY_MAX_DEPTH: setting({
    section: 'Query limits and cost budgets',
    schema: integer(1, 100),
    default: 12,
    about: 'Deepest field nesting of an operation (fragments count where spread, introspection is exempt).',
  }),
  QUERY_MAX_ALIASES: setting({
    section: 'Query limits and cost budgets',
    schema: integer(0, 1000),
    default: 30,
    about: 'Aliased fields in an operation, `__typename` included.',
  }),
  QUERY_MAX_DIRECTIVES: setting({ section: 'Query limits and cost budgets', schema: integer(0, 1000), default: 20, about: 'Directives in an operation.' }),
  QUERY_MAX_TOKENS: setting({
    section: 'Query limits and cost budgets',
    schema: integer(100, 100_000),
    default: 2000,
    about: 'Tokens of the document, counted before parsing.',
  }),
  QUERY_MAX_BYTES: setting({
    section: 'Query limits and cost budgets',
    schema: integer(256, 1_048_576),
    default: 32_768,
    about: 'Size of the document text in bytes (UTF-8).',
  }),
  QUERY_MAX_COST: setting({
    section: 'Query limits and cost budgets',
    schema: integer(1, 10_000_000),
    default: 10_000,
    about: 'Requested cost of one operation (connections weighed by `first`/`last`); at most `RATE_LIMIT_BUDGET`.',
  }),
  RATE_LIMIT_BUDGET: setting({
    section: 'Query limits and cost budgets',
    schema: integer(1, 1_000_000_000),
    default: 500_000,
    about: 'Query-cost points per principal (user, API key, or IP when anonymous) per window.',
  }),
  RATE_LIMIT_WINDOW_SECONDS: setting({
    section: 'Query limits and cost budgets',
    schema: integer(1, 86_400),
    default: 3600,
    about: 'Length of the budget window in seconds.',
  }),

  // --- Persisted and trusted documents
  PERSISTED_QUERIES: setting({
    section: 'Persisted and trusted documents',
    schema: boolean(),
    default: true,
    about: 'Automatic persisted queries: a client may send only the SHA-256 hash of a document it sent before (POST, or GET with a hash).',
  }),
  TRUSTED_DOCUMENTS_FILE: optional({
    section: 'Persisted and trusted documents',
    schema: text(),
    example: '/etc/marketplace/persisted-documents.json',
    about:
      'Path of a JSON file `{ "<sha256 hex>": "<document>" }`. When set, only those documents run (by hash or by full text); anything else is refused with `DOCUMENT_NOT_TRUSTED`. A file whose hashes do not match stops start-up.',
  }),
} as const;

/**
 * Asymmetric keys that sign and verify this server's access tokens.
 *
 * Keys come from a JWK set of PRIVATE keys (config `jwtSigningKeys`, env
 * JWT_SIGNING_KEYS). The LAST key is the newest and signs; every key in the
 * set verifies. Rotation therefore never logs anyone out:
 *   1. append a new key and deploy: new tokens carry its `kid`, tokens signed
 *      by the old key still verify;
 *   2. once the longest access-token TTL has passed, drop the old key.
 *
 * Development and tests need no configuration: with `allowGenerate`, a key
 * pair is generated once and kept in `keyFile` (mode 0600) so tokens survive
 * restarts.
 *
 * Only asymmetric algorithms are accepted (EdDSA on Ed25519, ES256 on P-256):
 * the public half is published at /.well-known/jwks.json, and a symmetric
 * secret could never be published. Error messages name the key by position
 * and `kid` but never print key material.
 */
import { hkdfSync, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

/** The JWS algorithms this server signs with. */
export type SigningAlgorithm = 'EdDSA' | 'ES256';

/** A public verification key as published in the JWKS document: never has `d`. */
export interface PublicSigningJwk {
  readonly kty: 'OKP' | 'EC';
  readonly crv: 'Ed25519' | 'P-256';
  readonly x: string;
  /** EC keys only. */
  readonly y?: string;
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly use: 'sig';
}

/** One key that verifies tokens; looked up by the token's `kid`. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Public CryptoKey (usage `verify`). */
  readonly key: CryptoKey;
}

/** The loaded key set. All members are read-only; the private key is not extractable. */
export interface SigningKeys {
  /** `kid` of the newest key, the one that signs. */
  readonly signingKid: string;
  readonly signingAlg: SigningAlgorithm;
  /** Private, non-extractable CryptoKey (usage `sign`). */
  readonly signingKey: CryptoKey;
  /** Every key in the set (including the signing key), by `kid`. */
  readonly verifyKeys: ReadonlyMap<string, VerificationKey>;
  /**
   * Symmetric keys derived from each private key (HKDF-SHA256 over its `d`,
   * salted with its `kid`, labelled for one purpose), for secrets the server
   * keeps at rest (stored idempotent responses, src/idempotency/sealed-response.ts).
   * The newest key's is `sealingKid`; every key's decrypts. A derived key
   * reveals nothing of the signing key, and rotates with it.
   */
  readonly sealingKid: string;
  readonly sealingKeys: ReadonlyMap<string, Buffer>;
  /** What GET /.well-known/jwks.json serves: public members only, oldest first. */
  readonly publicJwks: { readonly keys: readonly PublicSigningJwk[] };
  /**
   * Where the keys came from, for a start-up log line: the configured JWK set,
   * an existing development key file, or a key generated just now.
   */
  readonly origin: 'configured' | 'key-file' | 'generated';
}

export interface LoadSigningKeysOptions {
  /** A JWK set of private keys (JSON), e.g. `config.jwtSigningKeys`. Takes precedence when set. */
  jwksJson: string | undefined;
  /** Development key file, e.g. `config.jwtKeyFile`; used only when `allowGenerate` is true. */
  keyFile: string;
  /** True in development and test: read or create `keyFile` when `jwksJson` is not set. */
  allowGenerate: boolean;
}

/** A bad or missing key set. The message names the key (position, `kid`) and never contains key material. */
export class SigningKeysError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeysError';
  }
}

/**
 * Loads the signing keys: from `jwksJson` when given; otherwise, when
 * `allowGenerate` is true, from `keyFile`, generating an Ed25519 key pair into
 * it first if the file does not exist.
 *
 * @throws SigningKeysError when the set is invalid (symmetric, RSA or
 *   public-only keys, missing `kid`/`alg`, duplicate `kid`s, unreadable file),
 *   or when there is no key set and generation is not allowed.
 */
export async function loadSigningKeys(options: LoadSigningKeysOptions): Promise<SigningKeys> {
  if (options.jwksJson !== undefined) {
    return parseSigningJwks(options.jwksJson, 'JWT_SIGNING_KEYS', 'configured');
  }
  if (!options.allowGenerate) {
    throw new SigningKeysError('JWT_SIGNING_KEYS is not set and generating a development key is not allowed');
  }
  const { json, generated } = await readOrCreateKeyFile(options.keyFile);
  return parseSigningJwks(json, `JWT key file ${options.keyFile}`, generated ? 'generated' : 'key-file');
}

/**
 * Generates a new private JWK set with one key (`kid` = its RFC 7638
 * thumbprint, `use: 'sig'`), as JSON. To rotate a production key, append its
 * single key to the existing JWT_SIGNING_KEYS set.
 *
 * @example node --input-type=module -e "import('./dist/src/auth/signing-keys.js').then(async (m) => console.log(await m.generateSigningJwks()))"
 */
export async function generateSigningJwks(alg: SigningAlgorithm = 'EdDSA'): Promise<string> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  // The thumbprint covers only the public members, so it is safe to publish.
  const kid = await calculateJwkThumbprint(jwk);
  return JSON.stringify({ keys: [{ ...jwk, kid, alg, use: 'sig' }] });
}

interface KeyFileContents {
  json: string;
  generated: boolean;
}

async function readOrCreateKeyFile(keyFile: string): Promise<KeyFileContents> {
  const existing = await readKeyFile(keyFile);
  if (existing !== undefined) return { json: existing, generated: false };

  const json = `${await generateSigningJwks('EdDSA')}\n`;
  try {
    await mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    // Write a private temp file, then hard-link it into place: the key file
    // appears complete or not at all, and if another process (a second jest
    // worker, a second dev server) won the race, its key is kept and used.
    const temp = `${keyFile}.${randomUUID()}.tmp`;
    await writeFile(temp, json, { mode: 0o600, flag: 'wx' });
    try {
      await link(temp, keyFile);
      return { json, generated: true };
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    } finally {
      await rm(temp, { force: true });
    }
  } catch (error) {
    throw new SigningKeysError(`cannot create JWT key file ${keyFile}: ${errorCode(error) ?? 'write failed'}`);
  }
  const winner = await readKeyFile(keyFile);
  if (winner === undefined) throw new SigningKeysError(`JWT key file ${keyFile} disappeared while it was being created`);
  return { json: winner, generated: false };
}

/** The file's text, or undefined when it does not exist. */
async function readKeyFile(keyFile: string): Promise<string | undefined> {
  try {
    return await readFile(keyFile, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw new SigningKeysError(`cannot read JWT key file ${keyFile}: ${errorCode(error) ?? 'read failed'}`);
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

const CURVES: Record<SigningAlgorithm, { kty: 'OKP' | 'EC'; crv: 'Ed25519' | 'P-256' }> = {
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  ES256: { kty: 'EC', crv: 'P-256' },
};

async function parseSigningJwks(json: string, source: string, origin: SigningKeys['origin']): Promise<SigningKeys> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // No cause: JSON.parse messages quote the input, i.e. private keys.
    throw new SigningKeysError(`${source} must be a JSON JWK set`);
  }
  if (!isRecord(parsed) || !Array.isArray(parsed.keys)) {
    throw new SigningKeysError(`${source} must be a JWK set: an object with a "keys" array`);
  }
  const entries: unknown[] = parsed.keys;
  if (entries.length === 0) throw new SigningKeysError(`${source} has no keys`);

  const verifyKeys = new Map<string, VerificationKey>();
  const sealingKeys = new Map<string, Buffer>();
  const publicKeys: PublicSigningJwk[] = [];
  let signing: { kid: string; alg: SigningAlgorithm; key: CryptoKey } | undefined;
  for (const [index, entry] of entries.entries()) {
    const key = await parseKey(entry, `${source}: key #${index + 1}`);
    if (verifyKeys.has(key.publicJwk.kid)) {
      throw new SigningKeysError(`${source}: key #${index + 1} repeats kid "${key.publicJwk.kid}"; every kid must be unique`);
    }
    verifyKeys.set(key.publicJwk.kid, { kid: key.publicJwk.kid, alg: key.publicJwk.alg, key: key.publicKey });
    sealingKeys.set(key.publicJwk.kid, key.sealingKey);
    publicKeys.push(key.publicJwk);
    // The last key is the newest: it signs.
    signing = { kid: key.publicJwk.kid, alg: key.publicJwk.alg, key: key.privateKey };
  }
  if (signing === undefined) throw new SigningKeysError(`${source} has no keys`);

  return Object.freeze({
    signingKid: signing.kid,
    signingAlg: signing.alg,
    signingKey: signing.key,
    verifyKeys,
    sealingKid: signing.kid,
    sealingKeys,
    publicJwks: Object.freeze({ keys: Object.freeze(publicKeys) }),
    origin,
  });
}

interface ParsedKey {
  publicJwk: PublicSigningJwk;
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  sealingKey: Buffer;
}

/** The label of the one purpose derived keys serve; a new purpose gets a new label, hence a key of its own. */
const SEALING_INFO = 'marketplace-api: secrets at rest v1';

/** 32 bytes for AES-256-GCM, derived from the private scalar `d` (base64url). */
function deriveSealingKey(d: string, kid: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(d, 'base64url'), Buffer.from(kid, 'utf8'), SEALING_INFO, 32));
}

async function parseKey(entry: unknown, label: string): Promise<ParsedKey> {
  if (!isRecord(entry)) throw new SigningKeysError(`${label} must be a JWK object`);
  const kid = stringMember(entry, 'kid');
  const named = kid === undefined ? label : `${label} (kid "${kid}")`;
  const kty = stringMember(entry, 'kty');
  if (kty === 'oct') {
    throw new SigningKeysError(`${named} is a symmetric (kty "oct") key; only EdDSA (Ed25519) and ES256 (P-256) keys are accepted`);
  }
  if (kty === 'RSA') {
    throw new SigningKeysError(`${named} is an RSA key; only EdDSA (Ed25519) and ES256 (P-256) keys are accepted`);
  }
  if (kid === undefined || kid === '') throw new SigningKeysError(`${label} has no "kid"`);
  const alg = stringMember(entry, 'alg');
  if (alg === undefined) throw new SigningKeysError(`${named} has no "alg" (EdDSA or ES256)`);
  if (alg !== 'EdDSA' && alg !== 'ES256') {
    throw new SigningKeysError(`${named} has alg "${alg}"; only EdDSA and ES256 are accepted`);
  }
  const expected = CURVES[alg];
  const crv = stringMember(entry, 'crv');
  if (kty !== expected.kty || crv !== expected.crv) {
    throw new SigningKeysError(`${named}: alg ${alg} needs kty "${expected.kty}" and crv "${expected.crv}"`);
  }
  const use = entry.use;
  if (use !== undefined && use !== 'sig') throw new SigningKeysError(`${named} has a "use" other than "sig"`);
  const keyOps = entry.key_ops;
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('sign'))) {
    throw new SigningKeysError(`${named} has key_ops without "sign"`);
  }
  const d = stringMember(entry, 'd');
  if (d === undefined) {
    throw new SigningKeysError(`${named} is a public key; the signing key set needs private keys (with "d")`);
  }
  const x = stringMember(entry, 'x');
  const y = stringMember(entry, 'y');
  if (x === undefined || (kty === 'EC' && y === undefined)) {
    throw new SigningKeysError(`${named} is missing its public coordinates`);
  }

  // Public members are copied by allow-list, so nothing secret (d, or any
  // private member a tool might add) can reach the published JWKS.
  const publicJwk: PublicSigningJwk =
    kty === 'EC'
      ? { kty: 'EC', crv: 'P-256', x, y, kid, alg, use: 'sig' }
      : { kty: 'OKP', crv: 'Ed25519', x, kid, alg, use: 'sig' };
  const publicMembers: JWK = { kty, crv, x, ...(y === undefined ? {} : { y }) };

  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  try {
    privateKey = asCryptoKey(await importJWK({ ...publicMembers, d }, alg, { extractable: false }));
    publicKey = asCryptoKey(await importJWK(publicMembers, alg));
  } catch {
    // No cause: import errors may describe the key data.
    throw new SigningKeysError(`${named} is not a valid ${alg} key`);
  }
  await checkPair(privateKey, publicKey, alg, named);
  return { publicJwk, publicKey, privateKey, sealingKey: deriveSealingKey(d, kid) };
}

/**
 * Signs a probe with the private key and verifies it with the public one, so
 * a set whose published half does not match its private half fails at
 * start-up instead of producing tokens that nobody can verify.
 */
async function checkPair(privateKey: CryptoKey, publicKey: CryptoKey, alg: SigningAlgorithm, named: string): Promise<void> {
  const algorithm = alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' };
  const probe = new TextEncoder().encode('marketplace-api signing key check');
  let ok = false;
  try {
    const signature = await crypto.subtle.sign(algorithm, privateKey, probe);
    ok = await crypto.subtle.verify(algorithm, publicKey, signature, probe);
  } catch {
    ok = false;
  }
  if (!ok) throw new SigningKeysError(`${named}: the private key does not match its public coordinates`);
}

function asCryptoKey(key: CryptoKey | Uint8Array): CryptoKey {
  // importJWK only returns bytes for kty "oct", which is rejected above.
  if (key instanceof Uint8Array) throw new Error('unexpected symmetric key');
  return key;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMember(record: Record<string, unknown>, name: string): string | undefined {
  const value = record[name];
  return typeof value === 'string' ? value : undefined;
}

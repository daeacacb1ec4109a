import { hash, verify } from '@node-rs/argon2';

/** OWASP's argon2id baseline: 19 MiB of memory, 2 iterations, 1 lane. */
export const ARGON2_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

// A real hash of a random password, computed once: verifying against it costs
// the same as verifying a real account's hash.
let dummyHash: Promise<string> | undefined;

/**
 * Checks a password against a stored hash. With no hash (unknown email, or an
 * account without a password) it still runs one argon2 verification, so the
 * answer takes as long as for a wrong password and reveals nothing.
 */
export async function verifyPassword(storedHash: string | null | undefined, password: string): Promise<boolean> {
  dummyHash ??= hashPassword(`no-such-account-${Math.random()}`);
  const target = storedHash ?? (await dummyHash);
  try {
    const ok = await verify(target, password);
    return storedHash != null && ok;
  } catch {
    return false;
  }
}

/**
 * Prints a new private JWK set for JWT_SIGNING_KEYS: `npm run keys:generate`.
 * To rotate, append the new key to the existing set (the last key signs) and
 * drop the old one after the access-token lifetime has passed.
 */
import { generateSigningJwks, type SigningAlgorithm } from './signing-keys.js';

const alg = (process.argv[2] ?? 'EdDSA') as SigningAlgorithm;
if (alg !== 'EdDSA' && alg !== 'ES256') {
  console.error('Usage: npm run keys:generate [EdDSA|ES256]');
  process.exit(2);
}
console.log(await generateSigningJwks(alg));

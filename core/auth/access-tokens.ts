import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

// Short-lived access tokens: a signed JWT that any web process can check without a database
// round trip. Refresh tokens are opaque and live in the database (see refresh-tokens.ts).

export interface AccessClaims {
  userId: number;
  isStaff: boolean;
}

const ISSUER = 'shop';

// Given a string, jsonwebtoken first tries to parse it as a PEM public key (and throws) before it
// builds a secret key, on every call; that was a visible share of each authenticated request.
const keys = new Map<string, KeyObject>();
function keyFor(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) keys.set(secret, (key = createSecretKey(Buffer.from(secret))));
  return key;
}

export function signAccessToken(claims: AccessClaims, secret: string, ttlSeconds: number): string {
  return jwt.sign({ staff: claims.isStaff, typ: 'access' }, keyFor(secret), {
    algorithm: 'HS256',
    subject: String(claims.userId),
    issuer: ISSUER,
    expiresIn: ttlSeconds,
  });
}

/** The token's claims, or null when it is malformed, forged, expired or not an access token. */
export function verifyAccessToken(token: string, secret: string): AccessClaims | null {
  try {
    // Pinning the algorithm refuses "alg: none" and key-confusion tricks.
    const payload = jwt.verify(token, keyFor(secret), { algorithms: ['HS256'], issuer: ISSUER });
    // Every token we sign expires; one without exp (signed with the secret by anything else) is refused.
    if (typeof payload !== 'object' || payload.typ !== 'access' || typeof payload.exp !== 'number') return null;
    const userId = Number(payload.sub);
    if (!Number.isSafeInteger(userId) || userId <= 0) return null;
    return { userId, isStaff: payload.staff === true };
  } catch {
    return null;
  }
}

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { RefreshToken } from '../models/refresh-token.ts';
import { User } from '../models/user.ts';
import { unauthorized } from '../problems.ts';
import type { Services } from '../services.ts';

// Refresh tokens are opaque random strings. Only their sha256 is stored, so a leaked table cannot
// be replayed; sha256 (not argon2) is enough because the tokens carry 256 bits of randomness.
// Each login starts a family; each refresh marks the presented token used and issues the next one
// in the same family. A used token coming back means two parties hold it (one of them a thief),
// so the whole family is revoked and its owner has to log in again.
// Nothing outlives its use: a rotation deletes its family's expired tokens (all but the first, the
// family's lock), and a login deletes its user's families whose every token has expired, so the
// table holds about one live session's worth of rows per session instead of every token ever issued.

type Deps = Pick<Services, 'db' | 'config' | 'log'>;

export interface Rotated {
  user: { id: number; isStaff: boolean };
  refresh: string;
}

type Outcome = Rotated | { refused: 'invalid' } | { refused: 'reused'; userId: number; familyId: string };

/** Starts a new family (a login) and returns its first token; the user's dead families go. */
export async function issueRefreshToken(deps: Deps, userId: number): Promise<string> {
  // A rotation of a family being deleted holds its lock row first, so this waits for it; one
  // waiting for the lock row finds the row gone and its token with it: refused, as expired.
  await deps.db.raw(
    `DELETE FROM refresh_tokens WHERE user_id = :userId AND family_id IN (
       SELECT family_id FROM refresh_tokens WHERE user_id = :userId GROUP BY family_id HAVING max(expires_at) < now())`,
    { userId },
  );
  return await insertToken(deps.db, userId, randomUUID(), deps.config.REFRESH_TOKEN_TTL_SECONDS);
}

/**
 * Exchanges a refresh token for the next one of its family; 401 when it is unknown, expired,
 * revoked or already used (the last also revokes the family). Every rotation first locks its
 * family's first token, the family's lock, and only then reads it: concurrent uses of one family
 * (of one token, or of two, as when the owner and a thief replay old ones) queue up, the first
 * decides and the others see what it did. Locking only the presented token let two such rotations
 * each hold their own row while revoking the other's: a deadlock, answered as a 500. (One row, not
 * the whole family, which grows by a token every refresh.)
 */
export async function rotateRefreshToken(deps: Deps, token: string): Promise<Rotated> {
  // The transaction returns its verdict instead of throwing, because throwing would roll back
  // the family's revocation along with everything else.
  const outcome = await deps.db.transaction(async (trx): Promise<Outcome> => {
    const presented = await lockFamilyOf(trx, token);
    if (!presented) return { refused: 'invalid' };
    const row = await RefreshToken.query(trx).findById(presented.id);
    const now = new Date();
    if (!row || row.revoked_at) return { refused: 'invalid' };
    // A family with any revoked token is dead as a whole.
    if (await RefreshToken.query(trx).where('family_id', row.family_id).whereNotNull('revoked_at').first()) {
      return { refused: 'invalid' };
    }
    if (row.used_at) {
      await RefreshToken.query(trx).where('family_id', row.family_id).whereNull('revoked_at').patch({ revoked_at: now });
      return { refused: 'reused', userId: row.user_id, familyId: row.family_id };
    }
    if (row.expires_at <= now) return { refused: 'invalid' };
    await RefreshToken.query(trx).findById(row.id).patch({ used_at: now });
    const user = await User.query(trx).findById(row.user_id).select('is_staff').throwIfNotFound();
    const refresh = await insertToken(trx, row.user_id, row.family_id, deps.config.REFRESH_TOKEN_TTL_SECONDS);
    // An expired token is refused whatever it says, reuse included: its row has no use left.
    await RefreshToken.query(trx).where('family_id', row.family_id).where('expires_at', '<', now).whereNot('id', presented.lockId).delete();
    return { user: { id: row.user_id, isStaff: user.is_staff }, refresh };
  });
  if (!('refused' in outcome)) return outcome;
  if (outcome.refused === 'reused') {
    deps.log.warn({ userId: outcome.userId, familyId: outcome.familyId }, 'refresh token reused: family revoked');
    throw unauthorized('This refresh token was already used, so every token of its session has been revoked. Log in again.');
  }
  throw unauthorized('The refresh token is invalid, expired or revoked. Log in again.');
}

/**
 * Logs a session out: every token of the presented token's family is revoked, so neither it nor
 * any token it was or will be traded for works again. Access tokens already issued stay valid
 * until they expire (minutes). An unknown token changes nothing and is not an error (as RFC 7009
 * has it: the client could not act on one, and an error would tell a guesser which tokens exist).
 */
export async function revokeRefreshTokenFamily(deps: Pick<Deps, 'db'>, token: string): Promise<void> {
  await deps.db.transaction(async (trx) => {
    const presented = await lockFamilyOf(trx, token);
    if (presented) await RefreshToken.query(trx).where('family_id', presented.family_id).whereNull('revoked_at').patch({ revoked_at: new Date() });
  });
}

/**
 * The presented token's row (id and family), after locking its family's first token (lockId), the
 * lock that every rotation and revocation of the family takes first; undefined for an unknown token
 * (or one whose family is gone).
 */
async function lockFamilyOf(trx: Knex.Transaction, token: string): Promise<{ id: number; family_id: string; lockId: number } | undefined> {
  const presented = await RefreshToken.query(trx).select('id', 'family_id').where('token_hash', sha256(token)).first();
  if (!presented) return undefined;
  const lock = await RefreshToken.query(trx).select('id').where('family_id', presented.family_id).orderBy('id').first().forUpdate();
  // No first token left: a login deleted the family (every token expired) while we waited for it.
  if (!lock) return undefined;
  return { id: presented.id, family_id: presented.family_id, lockId: lock.id };
}

async function insertToken(db: Knex, userId: number, familyId: string, ttlSeconds: number): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await RefreshToken.query(db).insert({
    user_id: userId,
    family_id: familyId,
    token_hash: sha256(token),
    expires_at: new Date(Date.now() + ttlSeconds * 1000),
  });
  return token;
}

function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

import { UniqueViolationError } from 'objection';
import { z } from 'zod';
import type { Db } from '../db.ts';
import { User } from '../models/user.ts';
import { conflict } from '../problems.ts';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './passwords.ts';

/** What a new account needs. The HTTP route and the create-staff-user command validate with it. */
export const Registration = z.object({
  // Django's rule: 1-150 letters, digits and @ . + - _ (letters and digits in any script).
  username: z
    .string()
    .min(1)
    .max(150)
    .regex(/^[\p{L}\p{N}_.@+-]+$/u, 'Use only letters, digits and @ . + - _')
    // The pattern as JSON Schema (and OpenAPI) spell it: without the /u that JavaScript needs.
    .meta({ pattern: '^[\\p{L}\\p{N}_.@+-]+$' }),
  email: z.email().max(254),
  // At most 1024 so nobody can make us hash megabytes.
  password: z.string().min(8, 'Use at least 8 characters').max(1024),
});
export type Registration = z.output<typeof Registration>;

export interface Account {
  id: number;
  username: string;
  email: string;
}

export interface AuthenticatedUser extends Account {
  isStaff: boolean;
}

// Which field a unique index protects, to say what is taken.
const takenField: Record<string, string> = {
  users_username_lower_unique: 'username',
  users_email_lower_unique: 'email',
};

/**
 * Creates an account from an already validated `Registration`; 409 when the username or email is
 * taken, ignoring case. The unique indexes decide, so two concurrent registrations of one name
 * cannot both succeed.
 */
export async function registerUser(db: Db, registration: Registration, options: { isStaff?: boolean } = {}): Promise<Account> {
  const passwordHash = await hashPassword(registration.password);
  try {
    const user = await User.query(db)
      .insert({
        username: registration.username,
        email: registration.email,
        password_hash: passwordHash,
        is_staff: options.isStaff ?? false,
      })
      .returning(['id', 'username', 'email']);
    return { id: user.id, username: user.username, email: user.email };
  } catch (error) {
    const field = error instanceof UniqueViolationError && error.constraint ? takenField[error.constraint] : undefined;
    if (field) throw conflict(`That ${field} is already taken.`);
    throw error;
  }
}

/**
 * The username as authenticate() compares it: lowered by PostgreSQL, which for some letters
 * lowers otherwise than JavaScript (a final Σ is σ here, ς in toLowerCase), so that anything
 * keyed on it (the per-username login limit) takes one account's spellings for one.
 */
export async function comparableUsername(db: Db, username: string): Promise<string> {
  const { rows } = await db.raw<{ rows: { name: string }[] }>('SELECT lower(?::text) AS name', [username]);
  return rows[0]!.name;
}

/** The user whose username (any case) and password match, else null. */
export async function authenticate(db: Db, username: string, password: string): Promise<AuthenticatedUser | null> {
  const user = await User.query(db).whereRaw('lower(username) = lower(?)', [username]).first();
  if (!user) {
    await verifyAgainstDummy(password);
    return null;
  }
  if (!(await verifyPassword(user.password_hash, password))) return null;
  return { id: user.id, username: user.username, email: user.email, isStaff: user.is_staff };
}

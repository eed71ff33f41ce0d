import { hash, verify, type Options } from '@node-rs/argon2';

// Password hashing with argon2id at the OWASP Password Storage Cheat Sheet's first recommended
// setting (m=19 MiB, t=2, p=1): about 20-50 ms per hash here, costly for an offline attacker,
// affordable per login. The PHC string stores its own parameters and salt, so raising them later
// keeps old hashes verifiable. Passwords are never logged: nothing here logs, and callers must not.
const OPTIONS: Options = {
  algorithm: 2, // Argon2id (the package's `Algorithm` is a const enum, which type stripping cannot inline)
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/** True when `password` matches `passwordHash`; false for a wrong password or an unreadable hash. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same time as verifying a real password, for when there is no account to check
 * against: a login for an unknown username then takes as long as a wrong password, so response
 * times do not reveal which usernames exist.
 */
export async function verifyAgainstDummy(password: string): Promise<void> {
  // Hashed once per process with the current OPTIONS, so its cost always matches real hashes.
  dummyHash ??= hashPassword('dummy password for timing equalisation');
  await verifyPassword(await dummyHash, password);
}

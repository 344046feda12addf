import type { CredentialStore, Credentials } from "./digest.js";

/**
 * Credentials held in memory (loaded from a users file until the provisioning
 * database exists), per realm: the realm is the account's domain, so
 * alice@a and alice@b are two accounts with their own passwords.
 */
export class MemoryCredentialStore implements CredentialStore {
  private readonly users = new Map<string, Credentials>();

  /** `defaultRealm`: the realm of accounts set without one. */
  constructor(private readonly defaultRealm: string) {}

  set(username: string, creds: Credentials, realm = this.defaultRealm): void {
    this.users.set(`${username}@${realm.toLowerCase()}`, creds);
  }

  delete(username: string, realm = this.defaultRealm): boolean {
    return this.users.delete(`${username}@${realm.toLowerCase()}`);
  }

  lookup(username: string, realm: string): Credentials | undefined {
    return this.users.get(`${username}@${realm.toLowerCase()}`);
  }

  get size(): number {
    return this.users.size;
  }
}

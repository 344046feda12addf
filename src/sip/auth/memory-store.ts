import type { CredentialStore, Credentials } from "./digest.js";

/** Credentials held in memory (loaded from a users file until the provisioning database exists). */
export class MemoryCredentialStore implements CredentialStore {
  private readonly users = new Map<string, Credentials>();

  constructor(private readonly realm: string) {}

  set(username: string, creds: Credentials): void {
    this.users.set(username, creds);
  }

  delete(username: string): boolean {
    return this.users.delete(username);
  }

  lookup(username: string, realm: string): Credentials | undefined {
    return realm === this.realm ? this.users.get(username) : undefined;
  }

  get size(): number {
    return this.users.size;
  }
}

/** Bearer-token checks for vendors and admins; tokens are compared as SHA-256 digests in constant time. */

export interface Credentials {
  adminToken: string;
  /** Vendor API key to vendor id. */
  vendorKeys: Map<string, string>;
}

export interface Authenticator {
  vendorFor(authorization: string | undefined): Promise<string | undefined>;
  isAdmin(authorization: string | undefined): Promise<boolean>;
}

export function createAuthenticator(credentials: Credentials): Authenticator {
  const vendors = Promise.all(
    [...credentials.vendorKeys].map(async ([key, vendor]) => ({ digest: await digestOf(key), vendor })),
  );
  const admin = digestOf(credentials.adminToken);
  return {
    async vendorFor(authorization) {
      const token = bearer(authorization);
      if (!token) return undefined;
      const digest = await digestOf(token);
      let found: string | undefined;
      // Compare against every key, so timing says nothing about which (or whether one) matched.
      for (const candidate of await vendors) if (equal(candidate.digest, digest)) found = candidate.vendor;
      return found;
    },
    async isAdmin(authorization) {
      const token = bearer(authorization);
      return token !== undefined && equal(await admin, await digestOf(token));
    },
  };
}

function bearer(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

async function digestOf(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

function equal(left: Uint8Array, right: Uint8Array): boolean {
  let difference = left.length ^ right.length;
  for (let index = 0; index < left.length; index++) difference |= left[index]! ^ (right[index] ?? 0);
  return difference === 0;
}

/**
 * A service-account key made for a test with node:crypto, written as the JSON key file Google's libraries
 * read (`keyFile`, GOOGLE_APPLICATION_CREDENTIALS); the stand-in verifies signed URLs with its public key.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TestServiceAccount {
  clientEmail: string;
  projectId: string;
  publicKey: KeyObject;
  /** Path of the JSON key file. */
  keyFile: string;
}

export async function createTestServiceAccount(
  directory: string,
  options: { name?: string; projectId?: string } = {},
): Promise<TestServiceAccount> {
  const projectId = options.projectId ?? 'dropgate-test';
  const clientEmail = `${options.name ?? 'dropgate'}@${projectId}.iam.gserviceaccount.com`;
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(directory, `${options.name ?? 'dropgate'}-key.json`);
  await writeFile(
    keyFile,
    JSON.stringify({
      type: 'service_account',
      project_id: projectId,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      client_email: clientEmail,
      client_id: '100000000000000000001',
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: 'https://oauth2.googleapis.com/token',
    }),
    { mode: 0o600 },
  );
  return { clientEmail, projectId, publicKey, keyFile };
}

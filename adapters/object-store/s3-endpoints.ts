/** What an S3-compatible endpoint's address says about the service behind it. */

/** Whether `endpoint` is Cloudflare R2's S3 API (`https://<account>.r2.cloudflarestorage.com`, any jurisdiction). */
export function isR2Endpoint(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  try {
    return new URL(endpoint).hostname.endsWith('.r2.cloudflarestorage.com');
  } catch {
    return false;
  }
}

/**
 * A test Worker running the R2 store inside workerd over its real R2 binding: POST /copy?key&version&to
 * copies as the after-processing move does and answers the copy's metadata, or the error's code.
 */
import {
  createR2ObjectStore,
  type R2BucketBinding,
} from '../../../adapters/object-store/r2/r2-object-store.js';
import { isDropgateError } from '../../../adapters/errors.js';

export default {
  async fetch(request: Request, env: { BUCKET: R2BucketBinding }): Promise<Response> {
    const url = new URL(request.url);
    const store = createR2ObjectStore({
      binding: env.BUCKET,
      bucket: 'dropgate-test-uploads',
      accountId: '0123456789abcdef0123456789abcdef',
      accessKeyId: 'unused',
      secretAccessKey: 'unused',
    });
    const parameter = (name: string) => url.searchParams.get(name)!;
    try {
      return Response.json(await store.copy(parameter('key'), parameter('version'), parameter('to')));
    } catch (error) {
      if (isDropgateError(error)) return Response.json({ code: error.code }, { status: 409 });
      throw error;
    }
  },
};

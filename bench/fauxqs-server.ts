/**
 * fauxqs (the SQS stand-in) in a process of its own for the SQS bench, so the pipeline and the stand-in
 * do not share an event loop: listens on 127.0.0.1, prints its endpoint, runs until killed.
 */
import { buildApp } from 'fauxqs';

const app = buildApp({ logger: false, host: '127.0.0.1', defaultRegion: 'us-east-1' });
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${address.replace('localhost', '127.0.0.1')}\n`);

// The module the Worker build generates (app/node/generate-worker-modules.ts), aliased in wrangler.toml.
declare module 'dropgate-worker-build' {
  /** The config file as written; parsed by the Worker at its start, as on Node. */
  export const config: unknown;
  /** Every schema file the config names, by the path it names it by. */
  export const schemas: Record<string, unknown>;
  /** The schema file names of each folder of versions the config names. */
  export const folders: Record<string, string[]>;
  /** Each schema file's precompiled ajv validator, by path. */
  export const validators: Record<string, (data: unknown) => boolean>;
}

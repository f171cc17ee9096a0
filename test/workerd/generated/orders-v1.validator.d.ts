// Types of the validator module the workerd test generates before bundling (ajv standalone code).
declare const validate: (data: unknown) => boolean;
export default validate;

// Types of the module the workerd test generates before bundling: each precompiled validator (ajv
// standalone code) by the name a HarnessDataset gives in `validator`.
declare const validators: Record<string, (data: unknown) => boolean>;
export default validators;

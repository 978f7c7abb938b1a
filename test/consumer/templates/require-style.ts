// CommonJS consumers only: the `import = require()` form, resolved through the "require" condition.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- this form is what the file checks
import kling = require("xiexus-kling");

export const client: kling.KlingClient = kling.createKlingClient({ apiKey: "sk-example" });
export const isKlingError = (error: unknown): error is kling.KlingError => error instanceof kling.KlingError;

/** Declaration merging: `req.apiKey` on Express's Request and on node:http's IncomingMessage. */
import type { AuthenticatedKey } from "../core/types.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The key that authenticated this request (set by `apiKeyAuth`); never holds the secret or hash. */
      apiKey?: AuthenticatedKey;
    }
  }
}

declare module "node:http" {
  interface IncomingMessage {
    /** The key that authenticated this request (set by `apiKeyAuth`). */
    apiKey?: AuthenticatedKey;
  }
}

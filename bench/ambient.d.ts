/** Types for the bench's untyped imports (checked with `npx tsc -p bench` after `npm run build`). */
declare module "autocannon";

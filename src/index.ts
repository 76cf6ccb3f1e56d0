/**
 * keyward: API keys for Express, Connect and node:http. This is the main entry point;
 * `keyward/sqlite` holds the embedded SQLite store.
 */
import "./http/augment.js";

export { KeyManager } from "./keys/key-manager.js";
export { insufficientScope, ipForbidden, modeForbidden, projectForbidden } from "./core/refusals.js";
export type { CacheSize, ChannelStats, CreatedKey, KeyPage, KeywardStats, RotatedKey, RotateOptions, VerifyResult } from "./keys/results.js";
export type { VerifyContext } from "./keys/verify-call.js";
export type { ScopeUse, ScopeUsage } from "./keys/scope-usage.js";
export type { KeyManagerOptions, TierOptions, RateLimitOption, RateLimitWindow } from "./keys/options.js";
export type { CountPer } from "./keys/limits.js";
export type { StoreErrorMode } from "./keys/counter-fallback.js";
export type { CreateKeyInput, UpdateKeyInput } from "./keys/inputs.js";
export type {
  KeywardEvent,
  KeyEvent,
  KeyLeakedEvent,
  AuthFailedEvent,
  AuthSucceededEvent,
  UsageFlushFailedEvent,
  ChannelSilentEvent,
  ChannelRestoredEvent,
  KeyExpiringEvent,
  QuotaThresholdEvent,
  KeyIdleEvent,
  LifecycleEvent,
  SweepFailedEvent,
  CountersUnavailableEvent,
  RequestInfo,
} from "./keys/events.js";
export type { SweepReport } from "./keys/sweep.js";
export { fixedWindow, utcMonth } from "./keys/limits.js";
export { resolveProject, PROJECT_ID_PATTERN } from "./keys/projects.js";
export { MemoryStore } from "./stores/memory.js";

export { apiKeyAuth } from "./http/api-key-auth.js";
export type { ApiKeyAuthOptions, Middleware } from "./http/api-key-auth.js";
export { requireScope, requireAnyScope, requireMode, requireKey } from "./http/guards.js";
export { chargeCredits } from "./http/credits.js";
export type { CreditCostOptions } from "./http/credits.js";
export { defaultKeyManager, defaultDatabasePath, defaultKeyFormat } from "./keys/default-manager.js";
export { refuse, sendJson } from "./http/respond.js";
export { wwwAuthenticate } from "./http/challenge.js";
export { keysRouter } from "./http/keys-router.js";
export type { KeysRouterOptions, RouterRequest, RouterMiddleware } from "./http/keys-router.js";
export type { ApiKeyJson, CreditsJson } from "./http/key-json.js";
export type { FormatError, Responder } from "./http/respond.js";
export type { RateLimitHeaderStyle } from "./http/rate-limit-headers.js";
export { secretScanning } from "./http/secret-scanning.js";
export type { SecretScanningOptions, GitHubPublicKey, LeakReport, LeakLabel } from "./http/secret-scanning.js";
export type { PublicKeysFetch } from "./http/github-public-keys.js";
export { revocationEndpoint, type RevocationEndpointOptions } from "./http/revocation-endpoint.js";
export { keysPage, KEYS_PAGE_CSP } from "./page/keys-page.js";
export { runCli } from "./cli/run.js";
export type { CliPreset } from "./cli/run.js";
export type { Io as CliIo } from "./cli/commands.js";
export type { KeysPageOptions, PageScope, PageProject } from "./page/options.js";

export { createWebhookSecret, webhookSecretMode } from "./webhooks/secret.js";
export { signWebhook } from "./webhooks/sign.js";
export type { SignWebhookOptions } from "./webhooks/sign.js";
export { verifyWebhook } from "./webhooks/verify.js";
export type { VerifyWebhookOptions, VerifiedWebhook } from "./webhooks/verify.js";
export { parseSignatureHeader } from "./webhooks/signature.js";
export type { ParsedSignature, WebhookPayload } from "./webhooks/signature.js";

export { KeywardError, KeywardConfigError, ERROR_STATUS } from "./core/errors.js";
export type { KeywardErrorCode, KeywardErrorOptions } from "./core/errors.js";
export { KeyFormat } from "./core/key-format.js";
export type { ParsedKey } from "./core/key-format.js";
export { createHasher } from "./core/hash.js";
export { ScopeSet, normalizeScopes, requiredScope, requiredScopes, scopeError } from "./core/scopes.js";
export type { RequiredScope, ScopePolicy, ScopeRequirement } from "./core/scopes.js";
export { parseDuration, durationMs } from "./core/duration.js";
export type { Duration } from "./core/duration.js";
export { keyStatus } from "./core/status.js";
export type {
  ApiKey,
  AuthenticatedKey,
  CounterStore,
  CounterTake,
  CreditInterval,
  CreditRefill,
  CreditsView,
  DailyUsage,
  KeyFilter,
  KeyFormatRecord,
  KeyKind,
  KeyPatch,
  KeyStatus,
  KeyStore,
  LimitState,
  MaybePromise,
  RateLimitRule,
  RotationChange,
  ScopeUseDelta,
  ScopeUseTotal,
  StoredCredits,
  StoredKey,
  UsageDelta,
} from "./core/types.js";

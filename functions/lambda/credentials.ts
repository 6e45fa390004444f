/**
 * What the AWS SDK clients in a Lambda bundle use for `@aws-sdk/credential-provider-node`
 * (lib/bundling.ts aliases it here). Lambda gives a function its role's credentials in the
 * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the first link of
 * the default chain; the rest of the chain (SSO, profiles, web identity, container and instance
 * metadata) never applies there, and bundling it costs ~90 KB of code compiled on every cold
 * start. The CLI and tests keep the whole chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}) => fromEnv(init);

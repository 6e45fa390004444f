/**
 * What several sub-domains share and no single one owns: the token bucket that paces requests
 * to AWS. Imports nothing from the other sub-domains (only core/defaults).
 */
export * from './token-bucket';

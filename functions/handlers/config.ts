/**
 * Reads a handler's configuration once, at load, and fails fast naming every missing
 * variable: a missing wiring shows at the first cold start, not far away later.
 */
export function readConfig<const Names extends readonly string[]>(
  names: Names,
  env: NodeJS.ProcessEnv = process.env,
): { readonly [K in Names[number]]: string } {
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`missing environment variables: ${missing.join(', ')}`);
  return Object.fromEntries(names.map((name) => [name, env[name] as string])) as {
    [K in Names[number]]: string;
  };
}

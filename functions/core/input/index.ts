/**
 * The operator's input files (the fleet, the services file, a change spec): YAML or JSON parsed
 * and validated against the core's schemas, every problem reported with its file, line, what was
 * expected and what was found.
 *
 * May import: zod, yaml, core/shared, core/defaults, core/fleet and core/change (the schemas).
 */
export * from './files';

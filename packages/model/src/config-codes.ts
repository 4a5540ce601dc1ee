// The error codes of config.toml checking (the warnings are in interlock-compat.ts, the directive
// policy's code in directive-policy.ts); docs/errors.md documents each.

export const ERR_CONFIG_TOML = 'ERR_CONFIG_TOML';
export const ERR_CONFIG_UNKNOWN_KEY = 'ERR_CONFIG_UNKNOWN_KEY';
export const ERR_CONFIG_TYPE = 'ERR_CONFIG_TYPE';
export const ERR_CONFIG_VALUE = 'ERR_CONFIG_VALUE';
/** A rule beyond the schema (config-checks.ts, config-rules.ts). */
export const ERR_CONFIG_SEMANTIC = 'ERR_CONFIG_SEMANTIC';
/** A bug in the parser itself; reported rather than thrown. */
export const ERR_CONFIG_INTERNAL = 'ERR_CONFIG_INTERNAL';

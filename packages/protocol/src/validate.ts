// Clients check what they receive against the wire schemas before using it, so a peer of another
// version (or anything else answering on its port) gives one clear error instead of a crash later.
import { Ajv, type ValidateFunction } from 'ajv';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';

/** A body that does not match its schema; the message names the body and the first mismatches. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

let ajv: Ajv | undefined;

/**
 * A function that returns `value` typed as the schema says, or throws WireError. The schema is compiled
 * on first use, so importing this package compiles nothing. `T` is never passed: as a parameter of its
 * own, FromSchema<S> is not expanded over every JSONSchema inside this generic body (type-aware lint spent
 * 16 s of its 40 s here).
 */
export function wireValidator<const S extends JSONSchema, T = FromSchema<S>>(schema: S, what: string): (value: unknown) => T {
  let validate: ValidateFunction | undefined;
  return (value) => {
    ajv ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    validate ??= ajv.compile(schema as object);
    if (validate(value)) return value as T;
    const why = (validate.errors ?? [])
      .slice(0, 3)
      .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`)
      .join('; ');
    throw new WireError(`${what} does not match its schema: ${why}`);
  };
}

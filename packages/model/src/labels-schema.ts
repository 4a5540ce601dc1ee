// The JSON Schema (draft-07) of a service's label map, generated from the label declarations
// (label-declarations.ts) for editors and CI: packages/model/schema/labels.schema.json. The decoder
// does not run it; labels.test.ts checks that each label's schema accepts what its parser accepts.
import { LABELS, KNOWN_LABELS } from './label-declarations.js';
import type { KnownLabel } from './label-declarations.js';
import { LABEL_BOOL_TRUE_VALUES, MAX_LABEL_VALUE_LENGTH } from './label-syntax.js';
import { LABEL_PREFIX } from './labels-types.js';

export interface LabelValueSchema {
  type: 'string';
  description: string;
  maxLength: number;
  examples: string[];
  pattern?: string;
  enum?: string[];
}

function valueSchema(suffix: KnownLabel): LabelValueSchema {
  const { value, description, example, schema } = LABELS[suffix];
  const base: LabelValueSchema = {
    type: 'string',
    description: `${description} Value: ${value}.`,
    maxLength: MAX_LABEL_VALUE_LENGTH,
    examples: [example],
  };
  return 'pattern' in schema ? { ...base, pattern: schema.pattern } : { ...base, enum: [...schema.enum] };
}

export interface LabelSchema {
  $schema: string;
  $id: string;
  title: string;
  description: string;
  type: 'object';
  properties: Record<string, LabelValueSchema>;
  patternProperties: Record<string, { type: 'string' }>;
  additionalProperties: false;
  required: string[];
  if: { properties: Record<string, { enum: string[] }>; required: string[] };
  else: { required: string[] };
}

const escapedPrefix = LABEL_PREFIX.replace(/\./g, '\\.');

/**
 * JSON Schema (draft-07) for a service's label map. Labels outside com.docker.lb.* are allowed and
 * ignored; unknown com.docker.lb.* labels are not. Values are checked after trimming surrounding spaces.
 * Exported as packages/model/schema/labels.schema.json for editors and CI.
 */
export const labelSchema: LabelSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'urn:signalbox:schema:labels',
  title: 'Signalbox service labels',
  description:
    'com.docker.lb.* labels of a Docker Swarm service routed by Signalbox (compatible with Docker Interlock). ' + 'Values are checked after trimming surrounding spaces. See docs/labels.md.',
  type: 'object',
  properties: Object.fromEntries(KNOWN_LABELS.map((s) => [`${LABEL_PREFIX}${s}`, valueSchema(s)])),
  patternProperties: { [`^(?!${escapedPrefix})`]: { type: 'string' } },
  additionalProperties: false,
  required: [`${LABEL_PREFIX}port`],
  if: {
    properties: { [`${LABEL_PREFIX}default_backend`]: { enum: [...LABEL_BOOL_TRUE_VALUES] } },
    required: [`${LABEL_PREFIX}default_backend`],
  },
  else: { required: [`${LABEL_PREFIX}hosts`] },
};

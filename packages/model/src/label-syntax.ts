// The grammar of label values, shared by the parsers (label-parsers.ts) and the JSON Schema patterns
// of the declarations (label-declarations.ts): limits, boolean spellings and the value patterns.
//
// Patterns describe values after surrounding ASCII spaces are trimmed (the decoder trims them) and are
// whitelists: nothing outside them can reach a RouteSpec. ECMAScript regex source, valid with the u flag.

/** Longest value accepted for any label, checked before anything else. */
export const MAX_LABEL_VALUE_LENGTH = 4096;
/** Longest context root or websocket endpoint. */
export const MAX_LABEL_PATH_LENGTH = 1024;

/** Go's strconv.ParseBool spellings, as Interlock accepted them. */
export const LABEL_BOOL_TRUE_VALUES = ['1', 't', 'T', 'TRUE', 'true', 'True'] as const;
export const LABEL_BOOL_FALSE_VALUES = ['0', 'f', 'F', 'FALSE', 'false', 'False'] as const;

const DNS_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
/** One host item inside a comma list: at most 253 characters, optional '*.' then dot-separated labels. */
const HOST_ITEM = `(?=[^ ,]{1,253}(?: |,|$))(?:\\*\\.)?${DNS_LABEL}(?:\\.${DNS_LABEL})*`;
/** %XX, except encodings of control characters, '.', '/', '\' and DEL (they could smuggle separators or dot segments). */
const PCT = '%(?:2[0-9A-Da-d]|[34689A-Fa-f][0-9A-Fa-f]|5[0-9ABD-Fabd-f]|7[0-9A-Ea-e])';
const SEGMENT = `(?!\\.\\.?(?:/|,| |$))(?:[A-Za-z0-9._~-]|${PCT})+`;
/** An absolute path, '/' alone or segments with an optional trailing slash (removed by the decoder). */
const PATH_ITEM = `(?=[^ ,]{1,${MAX_LABEL_PATH_LENGTH}}(?: |,|$))/(?:${SEGMENT}(?:/${SEGMENT})*/?)?`;
const URL_CHARS = '[A-Za-z0-9\\-._~:/?@!&()*+=%]';
const URL_ITEM = `[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?]${URL_CHARS}*)?`;
const REDIRECT_PAIR = `${URL_ITEM} *, *${URL_ITEM}`;

export const LABEL_PATTERNS = {
  hosts: `^${HOST_ITEM}(?: *, *${HOST_ITEM})*$`,
  port: '^(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$',
  network: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$',
  path: `^${PATH_ITEM}$`,
  pathList: `^${PATH_ITEM}(?: *, *${PATH_ITEM})*$`,
  cookie: '^[A-Za-z0-9_.-]{1,128}$',
  secret: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$',
  // One trailing ';' is allowed: Interlock's label table ends each pair with it.
  redirects: `^${REDIRECT_PAIR}(?: *; *${REDIRECT_PAIR})* *;? *$`,
  maxFails: '^(?:0|[1-9][0-9]{0,2}|1000)$',
  failTimeout: '^[0-9]{1,6}(?:s|m|h|d)?$',
} as const;

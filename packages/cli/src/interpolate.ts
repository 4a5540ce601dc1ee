// Compose variable substitution, as `docker stack deploy` does it: $VAR, ${VAR}, ${VAR:-default},
// ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}; $$ is a literal $.

export interface Interpolated {
  text: string;
  /** Variables that were used but not set (substituted as ''), and required ones that were missing. */
  unset: { name: string; required: boolean; hint?: string }[];
}

const VAR = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): Interpolated {
  const unset: Interpolated['unset'] = [];
  if (!text.includes('$')) return { text, unset };
  const out = text.replace(VAR, (whole: string, braced?: string, op?: string, arg?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare)!;
    const value = env[name];
    const isSet = value !== undefined;
    const nonEmpty = isSet && value !== '';
    switch (op) {
      case ':-':
        return nonEmpty ? value : (arg ?? '');
      case '-':
        return isSet ? value : (arg ?? '');
      case ':+':
        return nonEmpty ? (arg ?? '') : '';
      case '+':
        return isSet ? (arg ?? '') : '';
      case ':?':
      case '?':
        if (op === ':?' ? nonEmpty : isSet) return value!;
        unset.push(arg ? { name, required: true, hint: arg } : { name, required: true });
        return '';
      default:
        if (!isSet) unset.push({ name, required: false });
        return value ?? '';
    }
  });
  return { text: out, unset };
}

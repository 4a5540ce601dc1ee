// The directive policy is one list (directive-policy.ts): docs/configuration.md is generated from it,
// and the hand-written docs that repeat it must name exactly its directives, in its order.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FORBIDDEN_DIRECTIVE_RULES, forbiddenDirectiveList, isForbiddenDirective } from '../src/index.js';

const doc = (name: string): string => readFileSync(fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url)), 'utf8').replace(/\s+/g, ' ');
const shown = FORBIDDEN_DIRECTIVE_RULES.map((r) => r.shown);

describe('forbidden directive list', () => {
  test('each shown name describes its pattern', () => {
    for (const { pattern, shown: name } of FORBIDDEN_DIRECTIVE_RULES) {
      // '*' stands for any characters: the shown name with '*' replaced by letters must match.
      const example = name.replace(/\*/g, 'x');
      expect(pattern.test(example)).toBe(true);
      expect(isForbiddenDirective(example.toUpperCase())).toBe(true);
    }
    expect(isForbiddenDirective('proxy_pass')).toBe(false);
  });

  test('the docs list the declared directives, in order', () => {
    expect(doc('configuration.md')).toContain(`may not use ${forbiddenDirectiveList(' or ')} directives`);
    expect(doc('security.md')).toContain(`(${forbiddenDirectiveList()})`);
    expect(doc('errors.md')).toContain(`may use: ${forbiddenDirectiveList()} (`);
    expect(forbiddenDirectiveList()).toBe(shown.map((s) => `\`${s}\``).join(', '));
  });
});

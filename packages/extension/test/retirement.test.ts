// Only the task core names retired stops; an extension that does not know its task ID never does.
import { isRetired } from '../src/retirement.js';

test('the task named in retiredExtensionTasks is retired; the others are not', () => {
  expect(isRetired({ retiredExtensionTasks: ['a1', 'b2'] }, 'b2')).toBe(true);
  expect(isRetired({ retiredExtensionTasks: ['a1'] }, 'b2')).toBe(false);
  expect(isRetired({}, 'b2')).toBe(false);
});

test('without SIGNALBOX_TASK_ID nothing is retired, even an empty ID in the list', () => {
  expect(isRetired({ retiredExtensionTasks: [''] }, '')).toBe(false);
});

import { afterEach } from 'vitest';
import { cleanup } from '@testing-library/react';

// happy-dom does no layout: every element is 0×0, so the virtualized board would render no rows at all.
// Give elements a phone-to-desktop-sized box so the virtualizer renders the first screenful, as a browser would.
Object.defineProperty(HTMLElement.prototype, 'offsetHeight', { configurable: true, get: () => 800 });
Object.defineProperty(HTMLElement.prototype, 'offsetWidth', { configurable: true, get: () => 1000 });

afterEach(() => {
  cleanup();
});

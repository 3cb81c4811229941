import { afterEach } from 'vitest';
import { cleanup } from '@testing-library/react';
import { ownWrites } from '../features/orders/ownWrites.js';

// happy-dom does no layout: every element is 0×0, so the virtualized board would render no rows at all.
// Give the scroll viewport a desktop-sized box and each row a card's height, as a browser would, so the
// virtualizer renders the first screenful (about ten cards plus overscan).
Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 1000 });
Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1000 });
Object.defineProperty(HTMLElement.prototype, 'offsetHeight', { configurable: true, get: () => 100 });
Object.defineProperty(HTMLElement.prototype, 'offsetWidth', { configurable: true, get: () => 1000 });
// The virtualizer measures each row's box: the same card height, from the same place.
HTMLElement.prototype.getBoundingClientRect = function getBoundingClientRect(this: HTMLElement) {
  return new DOMRect(0, 0, this.offsetWidth, this.offsetHeight);
};

afterEach(() => {
  cleanup();
  // The board keeps its filters in the URL: each test starts on a plain board.
  window.history.replaceState(null, '', '/');
  // Each test is a new page: the writes an earlier one sent are not this one's.
  ownWrites.forget();
});

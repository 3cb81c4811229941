import { describe, expect, it } from 'vitest';
import { createOwnWrites, OWN_WRITE_MEMORY_MS } from './ownWrites.js';

describe('own writes', () => {
  it('knows the version a create or an update made, and nothing else of that order', () => {
    const own = createOwnWrites();
    own.note({ id: 7, version: 1 }, 1000);
    own.note({ id: 8, version: 4 }, 1000);
    expect(own.isOwn({ kind: 'created', orderId: 7, version: 1 }, 1100)).toBe(true);
    expect(own.isOwn({ kind: 'updated', orderId: 8, version: 4 }, 1100)).toBe(true);
    // Someone else's next write to the same order is theirs.
    expect(own.isOwn({ kind: 'updated', orderId: 8, version: 5 }, 1100)).toBe(false);
    expect(own.isOwn({ kind: 'updated', orderId: 9, version: 4 }, 1100)).toBe(false);
    expect(own.isOwn({ kind: 'deleted', orderId: 8 }, 1100)).toBe(false);
  });

  it('knows its deletes, and that any of its writes may take an order out of the filter', () => {
    const own = createOwnWrites();
    own.note({ id: 3, deleted: true }, 0);
    own.note({ id: 4 }, 0);
    expect(own.isOwn({ kind: 'deleted', orderId: 3 }, 10)).toBe(true);
    expect(own.isOwn({ kind: 'left', orderId: 4 }, 10)).toBe(true);
    expect(own.isOwn({ kind: 'left', orderId: 5 }, 10)).toBe(false);
    // An update whose version was not known when it was sent is nobody's to claim by version.
    expect(own.isOwn({ kind: 'updated', orderId: 4, version: 2 }, 10)).toBe(false);
  });

  it('forgets a write after a while, so a much later change by someone else is news again', () => {
    const own = createOwnWrites();
    own.note({ id: 1, deleted: true }, 0);
    expect(own.isOwn({ kind: 'deleted', orderId: 1 }, OWN_WRITE_MEMORY_MS)).toBe(true);
    expect(own.isOwn({ kind: 'deleted', orderId: 1 }, OWN_WRITE_MEMORY_MS + 1)).toBe(false);
  });

  it('keeps a bounded number of writes, forgetting the oldest first', () => {
    const own = createOwnWrites();
    // Each note keeps two keys (the id and the version), so 5,000 notes overflow the memory.
    for (let id = 1; id <= 5000; id++) own.note({ id, version: 1 }, 0);
    expect(own.isOwn({ kind: 'created', orderId: 1, version: 1 }, 1)).toBe(false);
    expect(own.isOwn({ kind: 'created', orderId: 5000, version: 1 }, 1)).toBe(true);
  });

  it('forgets everything when asked, as a page that has just opened', () => {
    const own = createOwnWrites();
    own.note({ id: 2, version: 3 }, 0);
    own.forget();
    expect(own.isOwn({ kind: 'updated', orderId: 2, version: 3 }, 1)).toBe(false);
    expect(own.isOwn({ kind: 'left', orderId: 2 }, 1)).toBe(false);
  });
});

import { makeOrder, created, updated } from '@orders/client/testing';
import { act, render, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { AnnouncerProvider } from '../../lib/announcer.js';
import { recordAnnouncements } from '../../test/board.js';
import { createActivityStore, type ActivityStore } from './activity.js';
import { summarizeChanges, useAnnounceChanges } from './changeAnnouncements.js';

function Listener({ activity, everyMs }: { activity: ActivityStore; everyMs: number }) {
  useAnnounceChanges(activity, everyMs);
  return null;
}

describe('announcing changes from elsewhere', () => {
  it('says one summary for a burst of changes, never one announcement per event', async () => {
    const activity = createActivityStore();
    render(
      <AnnouncerProvider>
        <Listener activity={activity} everyMs={50} />
      </AnnouncerProvider>,
    );
    const announcements = recordAnnouncements();
    act(() => {
      activity.record([updated(makeOrder(1, 10, { version: 2 }), 'p1')]);
      activity.record([updated(makeOrder(2, 10, { version: 2 }), 'p2')]);
      activity.record([updated(makeOrder(3, 10, { version: 2 }), 'p3'), created(makeOrder(4, 10), 'p4')]);
    });
    await waitFor(() => expect(announcements.said).toEqual(['3 orders updated, 1 order created']));

    // The next burst is a new summary with only its own changes; a replayed event is not counted again.
    act(() => {
      activity.record([updated(makeOrder(1, 20, { version: 3 }), 'p5'), updated(makeOrder(3, 10), 'p3')]);
    });
    await waitFor(() => expect(announcements.said).toEqual(['3 orders updated, 1 order created', '1 order updated']));
    announcements.stop();
  });

  it('words each kind of change, singular and plural, and says nothing when nothing changed', () => {
    const zero = { created: 0, updated: 0, deleted: 0, left: 0 };
    expect(summarizeChanges(zero, zero)).toBe('');
    expect(summarizeChanges(zero, { created: 2, updated: 1, deleted: 1, left: 3 })).toBe(
      '1 order updated, 2 orders created, 1 order deleted, 3 orders left the filters',
    );
  });
});

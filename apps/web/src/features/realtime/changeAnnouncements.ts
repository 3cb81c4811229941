import { useEffect } from 'react';
import { useAnnouncer } from '../../lib/announcer.js';
import type { ActivitySnapshot, ActivityStore } from './activity.js';

/** At most one summary of changes from elsewhere per this many milliseconds. */
export const CHANGE_SUMMARY_MS = 4000;

type Totals = ActivitySnapshot['remoteTotals'];

const PHRASES: Record<keyof Totals, [one: string, many: string]> = {
  created: ['order created', 'orders created'],
  updated: ['order updated', 'orders updated'],
  deleted: ['order deleted', 'orders deleted'],
  left: ['order left the filters', 'orders left the filters'],
};

/** "3 orders updated, 1 order created": the changes between two totals, or '' when there are none. */
export function summarizeChanges(before: Totals, after: Totals): string {
  const parts: string[] = [];
  for (const kind of ['updated', 'created', 'deleted', 'left'] as const) {
    const count = after[kind] - before[kind];
    if (count > 0) parts.push(`${count.toLocaleString()} ${PHRASES[kind][count === 1 ? 0 : 1]}`);
  }
  return parts.join(', ');
}

/**
 * Tells screen-reader users, politely, that the board changed under them: one summary ("3 orders updated") for all
 * the changes of a few seconds, never one announcement per event, which on a busy board would talk without pause.
 * The changes this page's own writes made are left out: the person already heard "Saved" for those.
 */
export function useAnnounceChanges(activity: ActivityStore, everyMs: number = CHANGE_SUMMARY_MS): void {
  const { announce } = useAnnouncer();
  useEffect(() => {
    let announced = activity.getSnapshot().remoteTotals;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      const now = activity.getSnapshot().remoteTotals;
      const summary = summarizeChanges(announced, now);
      announced = now;
      if (summary) announce(summary);
    };
    const unsubscribe = activity.subscribe(() => {
      timer ??= setTimeout(flush, everyMs);
    });
    return () => {
      unsubscribe();
      clearTimeout(timer);
    };
  }, [activity, announce, everyMs]);
}

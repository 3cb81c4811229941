import { createContext, use, useCallback, useMemo, useState, type ReactNode } from 'react';

/** The id of the page's one polite live region (tests read what it last said). */
export const ANNOUNCER_ID = 'announcements';

/** Says something to screen-reader users without moving focus. */
export interface Announcer {
  /** Replaces what the polite live region says; read out when the reader is idle. */
  announce: (message: string) => void;
}

const AnnouncerContext = createContext<Announcer>({ announce: () => undefined });

/**
 * Owns the page's polite live region. It is in the DOM from the first render and only its text changes: a region
 * inserted together with its text is not read out by every screen reader, and one region per message would read
 * over each other.
 */
export function AnnouncerProvider({ children }: { children: ReactNode }) {
  const [said, setSaid] = useState({ text: '', seq: 0 });
  const announce = useCallback((text: string) => {
    // The same words twice in a row are still a change of text (a trailing no-break space on every other one), so
    // "Order #5 saved" after "Order #5 saved" is read out again.
    setSaid((current) => ({ text: current.seq % 2 === 0 ? `${text}\u00a0` : text, seq: current.seq + 1 }));
  }, []);
  const announcer = useMemo(() => ({ announce }), [announce]);
  return (
    <AnnouncerContext value={announcer}>
      {children}
      {/* No role: the page's other status messages are found by their role, and this one is the page's voice. */}
      <div id={ANNOUNCER_ID} className="visually-hidden" aria-live="polite" aria-atomic="true">
        {said.text}
      </div>
    </AnnouncerContext>
  );
}

/** The page's announcer (a silent one outside `AnnouncerProvider`). */
export function useAnnouncer(): Announcer {
  return use(AnnouncerContext);
}

import type { MouseEvent } from 'react';

/**
 * The first thing a keyboard reaches: jumps past the header and the filters to the page's main content. The page
 * is addressed by the URL's hash, so the jump moves focus itself instead of changing the hash.
 */
export function SkipLink({ target, label = 'Skip to the orders' }: { target: string; label?: string }) {
  const jump = (event: MouseEvent<HTMLAnchorElement>) => {
    const element = document.getElementById(target);
    if (!element) return;
    event.preventDefault();
    element.focus();
    element.scrollIntoView({ block: 'start' });
  };
  return (
    <a className="skip-link" href={`#${target}`} onClick={jump}>
      {label}
    </a>
  );
}

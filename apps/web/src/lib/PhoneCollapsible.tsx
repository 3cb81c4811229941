import { useId, useState, type ReactNode } from 'react';

/**
 * A part of the page that a phone can fold away (its button shows only on narrow screens, where the part sits above
 * the board); on a wide screen it is always open. It starts open, so nothing is hidden until the person asks.
 */
export function PhoneCollapsible({ label, children }: { label: string; children: ReactNode }) {
  const id = useId();
  const [open, setOpen] = useState(true);
  return (
    <div className={open ? 'phone-collapsible' : 'phone-collapsible phone-collapsed'}>
      <button
        type="button"
        className="phone-collapsible-toggle"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen((current) => !current)}
      >
        {label}
      </button>
      <div id={id} className="phone-collapsible-body">
        {children}
      </div>
    </div>
  );
}

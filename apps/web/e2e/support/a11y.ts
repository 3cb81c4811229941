import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AxeResults, RunOptions } from 'axe-core';
import type { Page } from 'playwright-core';

/** The WCAG 2.2 AA rule sets (A and AA of 2.0, 2.1 and 2.2). */
export const WCAG_AA_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

let axeSource: Promise<string> | undefined;

/** One rule broken, and where (CSS selectors of the offending nodes), for a readable failure. */
export interface Violation {
  rule: string;
  impact: string | null | undefined;
  targets: string[];
}

/**
 * Runs axe-core (the pinned npm package, injected into the page) with the WCAG 2.2 AA rules over the whole page as
 * it is now. The page's context must bypass the Content-Security-Policy, which refuses inline scripts.
 */
export async function axeViolations(page: Page): Promise<Violation[]> {
  axeSource ??= readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  const injected = await page.evaluate(() => 'axe' in window);
  if (!injected) await page.addScriptTag({ content: await axeSource });
  const options: RunOptions = { runOnly: { type: 'tag', values: WCAG_AA_TAGS }, resultTypes: ['violations'] };
  const results = await page.evaluate(
    (runOptions) =>
      (window as unknown as { axe: { run: (context: Document, o: RunOptions) => Promise<AxeResults> } }).axe.run(
        document,
        runOptions,
      ),
    options,
  );
  return results.violations.map((violation) => ({
    rule: violation.id,
    impact: violation.impact,
    targets: violation.nodes.map((node) => node.target.join(' ')),
  }));
}

/** What overflows its own box on the page: cards, and buttons inside the viewport (WCAG 1.4.4, 1.4.10, 1.4.12). */
export function clippedBoxes(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const clipped: string[] = [];
    const name = (element: Element) =>
      `${element.tagName.toLowerCase()} "${(element.getAttribute('aria-label') ?? element.textContent).trim().slice(0, 40)}"`;
    // Sub-pixel rounding of scroll sizes is not clipping.
    const over = (element: Element) =>
      element.scrollWidth > element.clientWidth + 1 || element.scrollHeight > element.clientHeight + 1;
    const inView = (element: Element) => {
      const box = element.getBoundingClientRect();
      return box.bottom > 0 && box.top < window.innerHeight && box.width > 0;
    };
    for (const card of document.querySelectorAll('.card')) {
      if (!inView(card)) continue;
      if (over(card)) clipped.push(name(card));
      for (const button of card.querySelectorAll('button'))
        if (inView(button) && over(button)) clipped.push(name(button));
      const box = card.getBoundingClientRect();
      for (const child of card.querySelectorAll('*')) {
        const inner = child.getBoundingClientRect();
        if (inner.width === 0) continue;
        if (inner.right > box.right + 1 || inner.left < box.left - 1)
          clipped.push(`${name(child)} sticks out of its card`);
      }
    }
    // Rows of the virtualized board must not overlap: each is placed where the one above it ends.
    const rows = [...document.querySelectorAll('.board-item')].map((row) => row.getBoundingClientRect());
    rows.sort((a, b) => a.top - b.top);
    for (let i = 1; i < rows.length; i++) {
      const above = rows[i - 1];
      const row = rows[i];
      if (above && row && row.top < above.bottom - 1) clipped.push(`board row ${i} overlaps the row above it`);
    }
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
      // Name the innermost elements that reach past the right edge: they are what makes the page scroll sideways.
      const wide = [...document.body.querySelectorAll('*')].filter(
        (element) => element.getBoundingClientRect().right > window.innerWidth + 1,
      );
      const innermost = wide.filter((element) => !wide.some((other) => other !== element && element.contains(other)));
      clipped.push(`the page scrolls sideways: ${innermost.slice(0, 5).map(name).join(', ')}`);
    }
    return clipped;
  });
}

/** Larger text (200%) and the WCAG 1.4.12 text spacing, as a reader's own style sheet would set them. */
export async function enlargeAndSpaceText(page: Page): Promise<void> {
  await page.addStyleTag({
    content: `html { font-size: 200% !important; }
      * { line-height: 1.5 !important; letter-spacing: 0.12em !important; word-spacing: 0.16em !important; }
      p { margin-bottom: 2em !important; }`,
  });
}

function luminance(rgb: readonly number[]): number {
  const [r = 0, g = 0, b = 0] = rgb.map((channel) => {
    const c = channel / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The WCAG contrast ratio of two CSS `rgb(...)` colours. */
export function contrastRatio(first: string, second: string): number {
  const parse = (color: string) => (color.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
  const [light, dark] = [luminance(parse(first)), luminance(parse(second))].sort((a, b) => b - a);
  return ((light ?? 0) + 0.05) / ((dark ?? 0) + 0.05);
}

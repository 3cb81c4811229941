import { useSyncExternalStore } from 'react';
import { useNow } from '../../lib/useNow.js';
import { CHART_SECONDS, type ActivityStore } from './activity.js';

const WIDTH = CHART_SECONDS;
const HEIGHT = 48;

/** Changes per second over the last three minutes, drawn as an area (plain SVG). */
export function ChangesChart({ activity }: { activity: ActivityStore }) {
  const { perSecond, lastAt } = useSyncExternalStore(activity.subscribe, activity.getSnapshot);
  // The clock ticks once a second; a change received since then must already be in the picture.
  const now = Math.max(useNow(1000), lastAt);
  const lastSecond = Math.floor(now / 1000);
  const counts: number[] = [];
  for (let i = CHART_SECONDS - 1; i >= 0; i--) counts.push(perSecond.get(lastSecond - i) ?? 0);
  const peak = Math.max(...counts);
  // The current second is still filling up; "now" is the last complete one.
  const current = counts.at(-2) ?? 0;
  const scale = peak > 0 ? (HEIGHT - 2) / peak : 0;
  const points = counts.map((count, x) => `${x},${(HEIGHT - count * scale).toFixed(1)}`);
  const area = `M0,${HEIGHT} L${points.join(' L')} L${WIDTH - 1},${HEIGHT} Z`;
  const summary = `${current} per second now, peak ${peak} per second in the last 3 minutes`;
  return (
    <section className="panel chart" aria-labelledby="chart-heading">
      <h2 id="chart-heading">Changes per second</h2>
      <figure>
        <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={summary}>
          <path d={area} className="chart-area" />
        </svg>
        <figcaption>
          <strong>{current}</strong>/s now · peak {peak}/s · last 3 min
        </figcaption>
      </figure>
    </section>
  );
}

import { compilePipeline, evaluateExpression, isPlainObject, MongoServerError, type Doc } from '../query/index.js';

// Distinct objects, so no value a document could hold is mistaken for a redaction decision.
const KEEP = Object.freeze({ redact: 'KEEP' });
const PRUNE = Object.freeze({ redact: 'PRUNE' });
const DESCEND = Object.freeze({ redact: 'DESCEND' });
const DECISIONS = { KEEP, PRUNE, DESCEND };

/**
 * Compiles a `$redact` expression (allowed after `$changeStream`, but not part of the query module's pipeline).
 * Inside descended sub-documents `$$ROOT` refers to the sub-document rather than the event.
 */
export function compileRedact(expr: unknown): (doc: Doc) => Doc | null {
  evaluateExpression(expr, {}, { validateOnly: true });
  const visitArray = (values: unknown[], now: Date): unknown[] => {
    const out: unknown[] = [];
    for (const value of values) {
      if (isPlainObject(value)) {
        const kept = visit(value, now);
        if (kept !== null) out.push(kept);
      } else if (Array.isArray(value)) {
        out.push(visitArray(value, now));
      } else {
        out.push(value);
      }
    }
    return out;
  };
  const visit = (doc: Doc, now: Date): Doc | null => {
    const decision = evaluateExpression(expr, doc, { vars: DECISIONS, now });
    if (decision === KEEP) return doc;
    if (decision === PRUNE) return null;
    if (decision !== DESCEND) {
      throw new MongoServerError(
        17053,
        'Location17053',
        "$redact's expression should not return anything aside from the variables $$KEEP, $$DESCEND, and $$PRUNE",
      );
    }
    const out: Doc = {};
    for (const [key, value] of Object.entries(doc)) {
      if (isPlainObject(value)) {
        const kept = visit(value, now);
        if (kept !== null) out[key] = kept;
      } else if (Array.isArray(value)) {
        out[key] = visitArray(value, now);
      } else {
        out[key] = value;
      }
    }
    return out;
  };
  return (doc) => visit(doc, new Date());
}

/** Compiles the user stages of a change stream into one function over a batch of events. */
export function compileUserStages(stages: Doc[]): (docs: Doc[]) => Doc[] {
  const steps: ((docs: Doc[]) => Doc[])[] = [];
  let run: Doc[] = [];
  const flush = (): void => {
    if (run.length > 0) steps.push(compilePipeline(run));
    run = [];
  };
  for (const stage of stages) {
    if ('$redact' in stage) {
      flush();
      const redact = compileRedact(stage.$redact);
      steps.push((docs) => docs.map(redact).filter((d): d is Doc => d !== null));
    } else {
      run.push(stage);
    }
  }
  flush();
  return (docs) => steps.reduce((cur, step) => step(cur), docs);
}

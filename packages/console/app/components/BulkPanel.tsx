import { useState } from "preact/hooks";
import {
  asksFirst,
  BULK_OPS,
  type BulkForm,
  type BulkOp,
  bulkBody,
  emptyBulkForm,
  jobsCount,
  runBulk,
} from "../lib/bulk.ts";
import { useSession } from "../session.tsx";
import { ConfirmDialog } from "./ConfirmDialog.tsx";
import { ErrorBanner } from "./ErrorBanner.tsx";

type Asking = { op: BulkOp; count: number; more: boolean };

/**
 * Bulk operations on the queue's jobs of this tenant: retry, cancel, run now, purge (admin). "Count" is a
 * dry run; the action counts first too, and asks in a dialog before anything that cannot be undone (or a
 * large retry), then changes no more jobs than it counted.
 */
export function BulkPanel({ queue, onDone }: { queue: string; onDone: () => void }) {
  const { client, can, check } = useSession();
  const [form, setForm] = useState<BulkForm>(() => emptyBulkForm());
  const [status, setStatus] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState<Asking | null>(null);
  const spec = BULK_OPS[form.op];
  const ops = (Object.keys(BULK_OPS) as BulkOp[]).filter((op) => can(BULK_OPS[op].scope));

  const guard = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (err) {
      setStatus("");
      setError(check(err));
    } finally {
      setBusy(false);
    }
  };

  const count = () =>
    guard(async () => {
      const r = await runBulk(client, form.op, queue, { ...bulkBody(form), dryRun: true });
      const more = r.limitReached ? ` (the limit, ${r.limit.toLocaleString("en")}; more may match)` : "";
      setStatus(`${jobsCount(r.changed)}${more} would be affected by ${spec.verb}.`);
    });

  const change = (op: BulkOp, limit?: number) =>
    guard(async () => {
      const body = bulkBody(form);
      const r = await runBulk(client, op, queue, limit === undefined ? body : { ...body, limit });
      const more = r.limitReached && limit === undefined ? " The limit was reached: more may match." : "";
      setStatus(`${BULK_OPS[op].past} ${jobsCount(r.changed)}.${more}`);
      setAsking(null);
      onDone();
    });

  const act = (e: Event) => {
    e.preventDefault();
    const op = form.op;
    void guard(async () => {
      const dry = await runBulk(client, op, queue, { ...bulkBody(form), dryRun: true });
      if (dry.changed === 0) {
        setStatus(`No job matches: nothing to ${BULK_OPS[op].verb}.`);
        return;
      }
      if (asksFirst(op, dry.changed)) {
        setStatus("");
        setAsking({ op, count: dry.changed, more: dry.limitReached });
        return;
      }
      await change(op, dry.changed);
    });
  };

  const set = <K extends keyof BulkForm>(k: K, v: BulkForm[K]) => setForm({ ...form, [k]: v });

  return (
    <form class="bulk" onSubmit={act} aria-labelledby="bulk-heading">
      <h2 id="bulk-heading">Act on many jobs</h2>
      <p class="muted">This tenant's jobs in the queue; each job changes as its one-job action would.</p>
      <fieldset>
        <legend>Operation</legend>
        {ops.map((op) => (
          <label class="inline" key={op}>
            <input
              type="radio"
              name="bulk-op"
              value={op}
              checked={form.op === op}
              onChange={() => setForm({ ...emptyBulkForm(op), ...keepFilters(form) })}
            />{" "}
            <strong>{BULK_OPS[op].label}</strong> <span class="muted">{BULK_OPS[op].jobs}</span>
          </label>
        ))}
      </fieldset>
      <div class="field-row">
        {spec.states && (
          <fieldset class="states">
            <legend>States</legend>
            {spec.states.all.map((s) => (
              <label class="inline" key={s}>
                <input
                  type="checkbox"
                  checked={form.states.includes(s)}
                  onChange={(e) =>
                    set(
                      "states",
                      e.currentTarget.checked ? [...form.states, s] : form.states.filter((x) => x !== s),
                    )
                  }
                />{" "}
                {s}
              </label>
            ))}
          </fieldset>
        )}
        <div class="field">
          <label for="bulk-type">Type</label>
          <input
            id="bulk-type"
            value={form.type}
            placeholder="any"
            onInput={(e) => set("type", e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="bulk-code">Error code</label>
          <input
            id="bulk-code"
            value={form.errorCode}
            placeholder="any"
            disabled={form.noErrorCode}
            onInput={(e) => set("errorCode", e.currentTarget.value)}
          />
          <label class="inline">
            <input
              type="checkbox"
              checked={form.noErrorCode}
              onChange={(e) => set("noErrorCode", e.currentTarget.checked)}
            />{" "}
            only errors without a code
          </label>
        </div>
        <div class="field">
          <label for="bulk-after">Created after</label>
          <input
            id="bulk-after"
            type="datetime-local"
            step="1"
            value={form.createdAfter}
            onInput={(e) => set("createdAfter", e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="bulk-before">Created before</label>
          <input
            id="bulk-before"
            type="datetime-local"
            step="1"
            value={form.createdBefore}
            onInput={(e) => set("createdBefore", e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="bulk-limit">At most</label>
          <input
            id="bulk-limit"
            inputMode="numeric"
            value={form.limit}
            placeholder="1000"
            onInput={(e) => set("limit", e.currentTarget.value)}
          />
        </div>
      </div>
      <div class="form-actions">
        <button type="button" class="secondary" disabled={busy} onClick={count}>
          Count matching jobs
        </button>
        <button type="submit" class={spec.destructive ? "danger" : undefined} disabled={busy}>
          {spec.button}
        </button>
        <p role="status" class="form-status" data-status="bulk">
          {status}
        </p>
      </div>
      <ErrorBanner error={error} title="Nothing was changed" />
      {asking && (
        <ConfirmDialog
          title={`${capital(BULK_OPS[asking.op].verb)} ${jobsCount(asking.count)} in queue ${queue}?`}
          confirm={`${capital(BULK_OPS[asking.op].verb)} ${jobsCount(asking.count)}`}
          danger={BULK_OPS[asking.op].destructive}
          busy={busy}
          onConfirm={() => change(asking.op, asking.count)}
          onClose={() => setAsking(null)}
        >
          <p>
            {jobsCount(asking.count)}
            {asking.more ? " (the limit; more match)" : ""} of this tenant match: {BULK_OPS[asking.op].jobs}.
          </p>
          {BULK_OPS[asking.op].destructive && <p>This cannot be undone.</p>}
          <p class="muted">
            No more than these {asking.count.toLocaleString("en")} will change, even if more match by then.
          </p>
        </ConfirmDialog>
      )}
    </form>
  );
}

function keepFilters(f: BulkForm): Partial<BulkForm> {
  const { type, errorCode, noErrorCode, createdAfter, createdBefore, limit } = f;
  return { type, errorCode, noErrorCode, createdAfter, createdBefore, limit };
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

import type { QueueSettings } from "@astraeus/client";
import { useEffect, useRef, useState } from "preact/hooks";
import { type FormProblem, formOf, patchOf, type SettingsForm } from "../lib/queues.ts";
import { useSession } from "../session.tsx";
import { ErrorBanner } from "./ErrorBanner.tsx";

interface FieldSpec {
  name: keyof SettingsForm;
  label: string;
  hint?: string;
}

const LIMITS: FieldSpec[] = [
  { name: "concurrency", label: "Concurrency", hint: "most jobs running at once, all workers together" },
  { name: "rateJobs", label: "Rate limit: jobs", hint: "most jobs started in any window of…" },
  { name: "ratePerSeconds", label: "Rate limit: seconds", hint: "…this many seconds" },
];
const DEFAULTS: FieldSpec[] = [
  { name: "maxAttempts", label: "Max attempts" },
  { name: "timeoutMs", label: "Timeout (ms)" },
  { name: "backoffBaseMs", label: "Backoff: first wait (ms)" },
  { name: "backoffMaxMs", label: "Backoff: longest wait (ms)" },
  { name: "backoffFactor", label: "Backoff: factor" },
];

/**
 * The queue's limits and job defaults (admin scope). Empty means not set (unlimited, the server's
 * default). Saving sends only what changed; the API checks the values and names any it refuses.
 */
export function QueueSettingsForm({ settings, onSaved }: { settings: QueueSettings; onSaved: () => void }) {
  const { client, check } = useSession();
  const [form, setForm] = useState<SettingsForm>(() => formOf(settings));
  const [problems, setProblems] = useState<FormProblem[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  // The settings the form was filled from, and whether the last change was this form's own save.
  const [baseline, setBaseline] = useState(settings);
  const saved = useRef(false);

  // The settings changed (this save, a pause, another admin): refill the form, unless the person is in
  // the middle of edits of their own, which are kept (saving them then sends what differs from the new).
  useEffect(() => {
    if (settings.updatedAt === baseline.updatedAt) return;
    const edited = JSON.stringify(form) !== JSON.stringify(formOf(baseline));
    if (!edited || saved.current) setForm(formOf(settings));
    saved.current = false;
    setBaseline(settings);
  }, [settings.updatedAt]);

  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setStatus("");
    const { patch, problems } = patchOf(settings, form);
    setProblems(problems);
    if (problems.length > 0) return;
    if (Object.keys(patch).length === 0) {
      setStatus("Nothing changed.");
      return;
    }
    setBusy(true);
    try {
      saved.current = true;
      await client.updateQueue(settings.name, patch);
      setStatus("Saved.");
      onSaved();
    } catch (err) {
      saved.current = false;
      setError(check(err));
    } finally {
      setBusy(false);
    }
  };

  const field = ({ name, label, hint }: FieldSpec) => {
    const id = `qs-${name}`;
    const problem = problems.find((p) => p.field === name);
    return (
      <div class="field" key={name}>
        <label for={id}>{label}</label>
        <input
          id={id}
          name={name}
          inputMode="decimal"
          value={String(form[name])}
          placeholder="not set"
          aria-invalid={problem ? "true" : undefined}
          aria-describedby={problem ? `${id}-problem` : hint ? `${id}-hint` : undefined}
          onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })}
        />
        {problem ? (
          <span id={`${id}-problem`} class="field-problem">
            {problem.message}
          </span>
        ) : (
          hint && (
            <span id={`${id}-hint`} class="muted field-hint">
              {hint}
            </span>
          )
        )}
      </div>
    );
  };

  return (
    <form class="queue-settings-form" onSubmit={save} aria-labelledby="settings-heading">
      <h2 id="settings-heading">Settings</h2>
      <p class="muted">Empty: not set (unlimited, or the server's default). Shared by every tenant.</p>
      <fieldset>
        <legend>Limits</legend>
        <div class="field-row">{LIMITS.map(field)}</div>
      </fieldset>
      <fieldset>
        <legend>Defaults for jobs submitted without their own</legend>
        <div class="field-row">
          {DEFAULTS.map(field)}
          <label class="inline jitter">
            <input
              type="checkbox"
              checked={form.backoffJitter}
              onChange={(e) => setForm({ ...form, backoffJitter: e.currentTarget.checked })}
            />{" "}
            Backoff jitter
          </label>
        </div>
      </fieldset>
      <div class="form-actions">
        <button type="submit" disabled={busy}>
          Save settings
        </button>
        <p role="status" class="form-status">
          {status}
        </p>
      </div>
      <ErrorBanner error={error} title="The settings were not saved" />
    </form>
  );
}

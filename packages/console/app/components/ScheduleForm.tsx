import type { Schedule } from "@astraeus/client";
import { useState } from "preact/hooks";
import { emptyScheduleForm, type ScheduleFormFields, scheduleRequest } from "../lib/schedules.ts";
import { useSession } from "../session.tsx";
import { ErrorBanner } from "./ErrorBanner.tsx";

/** A new schedule (jobs:write): a name, a cron expression or an interval, and the job each tick submits. */
export function ScheduleForm({
  onCreated,
  onCancel,
}: {
  onCreated: (s: Schedule) => void;
  onCancel: () => void;
}) {
  const { client, check } = useSession();
  const [f, setF] = useState<ScheduleFormFields>(emptyScheduleForm);
  const [payloadProblem, setPayloadProblem] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set =
    <K extends keyof ScheduleFormFields>(k: K) =>
    (v: ScheduleFormFields[K]) =>
      setF({ ...f, [k]: v });

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const req = scheduleRequest(f);
    setPayloadProblem(req.ok ? "" : req.message);
    if (!req.ok) return;
    setBusy(true);
    try {
      onCreated(await client.createSchedule(req.body));
    } catch (err) {
      setError(check(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="create-key schedule-form" onSubmit={submit} aria-labelledby="new-schedule-heading">
      <h2 id="new-schedule-heading">New schedule</h2>
      <div class="field">
        <label for="s-name">Name</label>
        <input
          id="s-name"
          required
          maxLength={128}
          value={f.name}
          placeholder="e.g. nightly-report"
          onInput={(e) => set("name")(e.currentTarget.value)}
        />
      </div>
      <fieldset>
        <legend>Timing</legend>
        <label class="inline">
          <input
            type="radio"
            name="s-timing"
            checked={f.timing === "cron"}
            onChange={() => set("timing")("cron")}
          />{" "}
          Cron expression
        </label>
        <label class="inline">
          <input
            type="radio"
            name="s-timing"
            checked={f.timing === "interval"}
            onChange={() => set("timing")("interval")}
          />{" "}
          Fixed interval
        </label>
        {f.timing === "cron" ? (
          <div class="field-row">
            <div class="field">
              <label for="s-cron">Cron (minute hour day month weekday)</label>
              <input
                id="s-cron"
                required
                value={f.cron}
                placeholder="30 2 * * *"
                spellcheck={false}
                onInput={(e) => set("cron")(e.currentTarget.value)}
              />
            </div>
            <div class="field">
              <label for="s-tz">Time zone</label>
              <input id="s-tz" value={f.timezone} onInput={(e) => set("timezone")(e.currentTarget.value)} />
            </div>
          </div>
        ) : (
          <div class="field">
            <label for="s-every">Every (seconds)</label>
            <input
              id="s-every"
              required
              inputMode="decimal"
              value={f.everySeconds}
              placeholder="300"
              onInput={(e) => set("everySeconds")(e.currentTarget.value)}
            />
          </div>
        )}
      </fieldset>
      <fieldset>
        <legend>The job each tick submits</legend>
        <div class="field-row">
          <div class="field">
            <label for="s-type">Type</label>
            <input
              id="s-type"
              value={f.type}
              placeholder="the server's default"
              onInput={(e) => set("type")(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="s-queue">Queue</label>
            <input
              id="s-queue"
              value={f.queue}
              placeholder="default"
              onInput={(e) => set("queue")(e.currentTarget.value)}
            />
          </div>
        </div>
        <div class="field">
          <label for="s-payload">Payload (JSON)</label>
          <textarea
            id="s-payload"
            rows={3}
            spellcheck={false}
            value={f.payload}
            aria-invalid={payloadProblem ? "true" : undefined}
            aria-describedby={payloadProblem ? "s-payload-problem" : undefined}
            onInput={(e) => set("payload")(e.currentTarget.value)}
          />
          {payloadProblem && (
            <span id="s-payload-problem" class="field-problem">
              {payloadProblem}
            </span>
          )}
        </div>
      </fieldset>
      <div class="field-row">
        <div class="field">
          <label for="s-overlap">While the previous job is unfinished</label>
          <select
            id="s-overlap"
            value={f.overlap}
            onChange={(e) => set("overlap")(e.currentTarget.value as ScheduleFormFields["overlap"])}
          >
            <option value="allow">submit anyway (allow)</option>
            <option value="skip">skip the tick (skip)</option>
          </select>
        </div>
        <div class="field">
          <label for="s-missed">Ticks missed during downtime</label>
          <select
            id="s-missed"
            value={f.missedRuns}
            onChange={(e) => set("missedRuns")(e.currentTarget.value as ScheduleFormFields["missedRuns"])}
          >
            <option value="none">drop them (none)</option>
            <option value="latest">run the latest once (latest)</option>
          </select>
        </div>
      </div>
      <label class="inline">
        <input
          type="checkbox"
          checked={f.enabled}
          onChange={(e) => set("enabled")(e.currentTarget.checked)}
        />{" "}
        Enabled
      </label>
      <div class="form-actions">
        <button type="submit" disabled={busy}>
          Create schedule
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ErrorBanner error={error} title="The schedule was not created" />
    </form>
  );
}

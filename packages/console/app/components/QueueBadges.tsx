import type { QueueSettings } from "@astraeus/client";
import { queueBadges } from "../lib/queues.ts";

/** "paused" and "limited" beside a queue's name; nothing for a queue that runs freely. */
export function QueueBadges({ settings }: { settings: QueueSettings | undefined }) {
  if (!settings) return null;
  return (
    <>
      {queueBadges(settings).map((b) => (
        <span key={b.kind} class={`badge badge-${b.kind}`} data-badge={b.kind} title={b.detail}>
          {b.text}
          <span class="visually-hidden">: {b.detail}</span>
        </span>
      ))}
    </>
  );
}

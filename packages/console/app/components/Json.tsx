import { pretty } from "../lib/format.ts";

/** Preformatted text in a scrollable box a keyboard user can reach (Tab) and scroll (arrow keys). */
export function Scroll({ text, label, kind }: { text: string; label: string; kind: "json" | "stack" }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable to scroll by keyboard
    <section class={`scroll scroll-${kind}`} tabIndex={0} aria-label={label}>
      <pre>{text}</pre>
    </section>
  );
}

/** A JSON value, indented. */
export function Json({ value, label }: { value: unknown; label: string }) {
  return <Scroll text={pretty(value)} label={label} kind="json" />;
}

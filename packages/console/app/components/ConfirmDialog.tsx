import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

export interface ConfirmDialogProps {
  /** The question, as the dialog's heading and accessible name. */
  title: string;
  children: ComponentChildren;
  /** The button that goes ahead ("Cancel 12 jobs"). */
  confirm: string;
  /** The button that leaves everything as it is. Default "Keep them". */
  back?: string;
  /** A red confirm button: the change cannot be undone. */
  danger?: boolean;
  busy?: boolean;
  onConfirm(): void;
  onClose(): void;
}

/**
 * A modal question before a change that cannot be undone (or touches many jobs). The browser's own modal
 * <dialog>: the rest of the page is inert while it is open, focus starts on the safe answer (the
 * first button), Escape closes it, and focus returns to the control that opened it.
 */
export function ConfirmDialog(p: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const back = useRef<HTMLButtonElement>(null);
  const onClose = useRef(p.onClose);
  onClose.current = p.onClose;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const opener = document.activeElement as HTMLElement | null;
    d.showModal();
    const cancel = (e: Event) => {
      e.preventDefault();
      onClose.current();
    };
    d.addEventListener("cancel", cancel);
    return () => {
      d.removeEventListener("cancel", cancel);
      if (d.open) d.close();
      opener?.focus?.();
    };
  }, []);
  // Chromium focuses the dialog itself when nothing in it asks for focus: start on the safe answer, once
  // it can take focus (it is disabled while the request that opened the dialog finishes).
  useEffect(() => {
    if (!p.busy && document.activeElement === ref.current) back.current?.focus();
  }, [p.busy]);
  return (
    <dialog ref={ref} class="confirm-dialog" aria-labelledby="confirm-title">
      <h2 id="confirm-title">{p.title}</h2>
      <div class="confirm-body">{p.children}</div>
      <div class="confirm-actions">
        <button ref={back} type="button" class="secondary" disabled={p.busy} onClick={p.onClose}>
          {p.back ?? "Keep them"}
        </button>
        <button type="button" class={p.danger ? "danger" : undefined} disabled={p.busy} onClick={p.onConfirm}>
          {p.confirm}
        </button>
      </div>
    </dialog>
  );
}

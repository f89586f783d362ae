import { useEffect, useRef, useState } from "preact/hooks";
import { useSession } from "./session.tsx";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again now. */
  reload(): void;
}

/**
 * Runs `load` now and whenever `deps` change; with `everyMs`, again that long after each answer while
 * the tab is visible (a hidden tab asks the API nothing). Errors go through the session first, so a
 * revoked key signs out.
 */
export function useLoad<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  everyMs?: number,
): Loaded<T> {
  const session = useSession();
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  // deps are the caller's; `load` is read through a ref so a new closure each render restarts nothing.
  useEffect(() => {
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    const run = async () => {
      if (running || ctrl.signal.aborted) return;
      running = true;
      setState((s) => ({ ...s, loading: true }));
      try {
        const data = await loadRef.current(ctrl.signal);
        if (!ctrl.signal.aborted) setState({ data, error: null, loading: false });
      } catch (err) {
        if (!ctrl.signal.aborted)
          setState((s) => ({ data: s.data, error: session.check(err), loading: false }));
      } finally {
        running = false;
      }
      schedule();
    };
    const schedule = () => {
      clearTimeout(timer);
      if (everyMs !== undefined && !ctrl.signal.aborted && !document.hidden) timer = setTimeout(run, everyMs);
    };
    const onVisibility = () => {
      if (!document.hidden) void run();
    };
    void run();
    if (everyMs !== undefined) document.addEventListener("visibilitychange", onVisibility);
    return () => {
      ctrl.abort();
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [...deps, tick]);

  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** Sets the tab's title for the page. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Astraeus console`;
  }, [title]);
}

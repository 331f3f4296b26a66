import { useCallback, useLayoutEffect, useRef } from "react";

/**
 * Keeps a scrolling list at its newest (bottom) entry as entries arrive, unless the reader has
 * scrolled up to read older ones. Spread the result onto the scrolling element.
 */
export function useStickToBottom<T extends HTMLElement>(contentKey: unknown) {
  const ref = useRef<T>(null);
  const atBottom = useRef(true);
  const onScroll = useCallback(() => {
    const el = ref.current;
    if (el) atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  }, []);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [contentKey]);
  return { ref, onScroll };
}

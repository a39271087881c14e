/**
 * Reads a source ahead of its consumer, up to `cap` (by `weight`): while the consumer still
 * writes a page, the next request is already on its way. Against an instance that takes seconds
 * to answer, a slice then waits for the instance or for nowpipe, not for one after the other.
 * The cap bounds the memory: about one response plus a batch.
 */
export async function* readAhead<T>(source: AsyncGenerator<T>, weight: (item: T) => number, cap: number): AsyncGenerator<T> {
  const queue: T[] = [];
  let held = 0;
  let finished = false;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  const producer = (async () => {
    try {
      for (;;) {
        while (held >= cap && !stopped) await new Promise<void>((resolve) => (wakeProducer = resolve));
        if (stopped) break;
        const r = await source.next();
        if (r.done) break;
        queue.push(r.value);
        held += weight(r.value);
        wakeConsumer?.();
      }
    } catch (error) {
      failure = { error };
    } finally {
      finished = true;
      wakeConsumer?.();
    }
  })();
  try {
    for (;;) {
      const item = queue.shift();
      if (item !== undefined) {
        held -= weight(item);
        wakeProducer?.();
        yield item;
        continue;
      }
      if (finished) {
        if (failure) throw failure.error;
        return;
      }
      await new Promise<void>((resolve) => (wakeConsumer = resolve));
    }
  } finally {
    // The consumer stopped early (or failed): stop reading, and close the source once its read
    // in flight has settled (an aborted signal settles it at once).
    stopped = true;
    wakeProducer?.();
    void producer.then(() => source.return(undefined));
  }
}

import type * as ort from 'onnxruntime-node';

/** Wraps a real session to record the batch size of every call. */
export function recordingRows(session: ort.InferenceSession, rows: number[]): ort.InferenceSession {
  return new Proxy(session, {
    get(target, prop, receiver) {
      if (prop === 'run') {
        return (feeds: Record<string, ort.Tensor>, ...rest: unknown[]) => {
          rows.push(feeds.input_ids!.dims[0]!);
          return (target.run as (...a: unknown[]) => Promise<unknown>).call(target, feeds, ...rest);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

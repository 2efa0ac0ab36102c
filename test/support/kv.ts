import * as ort from 'onnxruntime-node';

/** Concatenates two [B, H, S, D] float tensors along S: what a host-side KV cache does. */
export function concatSeq(a: ort.Tensor, b: ort.Tensor): ort.Tensor {
  const [batch, heads, sa, d] = a.dims as [number, number, number, number];
  const sb = b.dims[2] as number;
  const out = new Float32Array(batch * heads * (sa + sb) * d);
  const ad = a.data as Float32Array;
  const bd = b.data as Float32Array;
  for (let row = 0; row < batch * heads; row++) {
    out.set(ad.subarray(row * sa * d, (row + 1) * sa * d), row * (sa + sb) * d);
    out.set(bd.subarray(row * sb * d, (row + 1) * sb * d), row * (sa + sb) * d + sa * d);
  }
  return new ort.Tensor('float32', out, [batch, heads, sa + sb, d]);
}

/** Stacks [1, H, S_i, D] tensors into [B, H, S, D], padding each row's S_i up to S with zeros. */
export function stackPadded(rows: ort.Tensor[], seq: number): ort.Tensor {
  const [, heads, , d] = rows[0]!.dims as [number, number, number, number];
  const out = new Float32Array(rows.length * heads * seq * d);
  rows.forEach((row, b) => {
    const s = row.dims[2] as number;
    const data = row.data as Float32Array;
    for (let h = 0; h < heads; h++) {
      out.set(data.subarray(h * s * d, (h + 1) * s * d), (b * heads + h) * seq * d);
    }
  });
  return new ort.Tensor('float32', out, [rows.length, heads, seq, d]);
}

export function emptyCache(layers: number, batch: number, heads: number, headDim: number) {
  const feeds: Record<string, ort.Tensor> = {};
  for (let l = 0; l < layers; l++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_${kind}_${l}`] = new ort.Tensor('float32', new Float32Array(0), [
        batch,
        heads,
        0,
        headDim,
      ]);
    }
  }
  return feeds;
}

/**
 * Gradient kernels the TF.js 4.22 WASM backend lacks: Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter and
 * DepthwiseConv2dNativeBackpropInput. Without them any fit that reaches a conv or depthwise layer on WASM dies with
 * "Kernel '…' not registered for backend 'wasm'".
 *
 * Each kernel is composed of ops WASM does have (matMul, stridedSlice, mul, sum, pad, depthwiseConv2d, …). The ops run
 * through the engine from inside the kernel; the engine turns the tape off while a kernel runs, so nothing here is
 * recorded for backprop. Layout is NHWC only, dilation 1 only (the only case tfjs-core's own gradients produce).
 */
import * as tf from '@tensorflow/tfjs'

type Pad = tf.Conv2DBackpropFilterAttrs['pad']
type RoundingMode = tf.Conv2DBackpropFilterAttrs['dimRoundingMode']
type Shape4 = [number, number, number, number]

/** The spatial geometry of one forward convolution, as both gradients need it. */
interface Geometry {
  strideH: number
  strideW: number
  padTop: number
  padLeft: number
  outH: number
  outW: number
}

const BACKEND = 'wasm'
const KERNEL_NAMES = [
  tf.Conv2DBackpropFilter,
  tf.DepthwiseConv2dNativeBackpropFilter,
  tf.DepthwiseConv2dNativeBackpropInput,
] as const

/**
 * Registers the three missing gradient kernels for the 'wasm' backend. Safe to call any number of times, before or
 * after the backend is initialised: a kernel that is already registered (by us or by a future tfjs) is left alone.
 */
export function registerWasmGradKernels(): void {
  const impls: Record<(typeof KERNEL_NAMES)[number], tf.KernelFunc> = {
    [tf.Conv2DBackpropFilter]: conv2dBackpropFilter,
    [tf.DepthwiseConv2dNativeBackpropFilter]: depthwiseBackpropFilter,
    [tf.DepthwiseConv2dNativeBackpropInput]: depthwiseBackpropInput,
  }
  for (const kernelName of KERNEL_NAMES) {
    if (tf.getKernel(kernelName, BACKEND) != null) continue
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc: impls[kernelName] })
  }
  registerMatMulTransposeFastPath()
}

const fastPathMark = Symbol('tunewise.matMulFastPath')

/**
 * WASM's BatchMatMul is an order of magnitude slower when asked to transpose an operand than a
 * transpose followed by a plain product (measured: [392,1280]ᵀ·[392,320] 272 ms against 21 ms;
 * a·[1280,320]ᵀ 168 ms against 36 ms). Every dense and convolution gradient asks for a transposed
 * operand, so the kernel is wrapped: transpose explicitly, multiply, free the copies. Idempotent.
 */
function registerMatMulTransposeFastPath(): void {
  const current = tf.getKernel(tf.BatchMatMul, BACKEND)
  const transpose = tf.getKernel(tf.Transpose, BACKEND)
  if (!current || !transpose) return
  if ((current.kernelFunc as { [fastPathMark]?: boolean })[fastPathMark]) return
  const original = current.kernelFunc
  const kernelFunc: tf.KernelFunc = (args) => {
    const attrs = args.attrs as unknown as tf.BatchMatMulAttrs
    if (!attrs.transposeA && !attrs.transposeB) return original(args)
    const backend = args.backend as tf.KernelBackend
    const copies: tf.TensorInfo[] = []
    const flip = (t: tf.TensorInfo): tf.TensorInfo => {
      const rank = t.shape.length
      const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2]
      const out = transpose.kernelFunc({ inputs: { x: t }, backend, attrs: { perm } }) as tf.TensorInfo
      copies.push(out)
      return out
    }
    try {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo }
      return original({
        inputs: { a: attrs.transposeA ? flip(a) : a, b: attrs.transposeB ? flip(b) : b },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap,
      })
    } finally {
      for (const c of copies) backend.disposeData(c.dataId)
    }
  }
  ;(kernelFunc as { [fastPathMark]?: boolean })[fastPathMark] = true
  tf.unregisterKernel(tf.BatchMatMul, BACKEND)
  tf.registerKernel({ ...current, kernelFunc })
}

/**
 * Runs `body` on tensors that wrap the kernel's inputs. The wrappers take their own reference on the backend data so
 * that disposing them (which tidy does) leaves the caller's tensors intact; every intermediate is freed by tidy, so the
 * engine's leak check sees exactly one new data id: the result.
 */
function withInputs(
  backend: object,
  infos: tf.TensorInfo[],
  body: (...inputs: tf.Tensor4D[]) => tf.Tensor,
): tf.TensorInfo {
  const kernelBackend = backend as tf.KernelBackend
  const engine = tf.engine()
  const wrapped = infos.map((info) => {
    kernelBackend.incRef(info.dataId)
    return engine.makeTensorFromTensorInfo(info, kernelBackend) as tf.Tensor4D
  })
  try {
    return tf.tidy(() => body(...wrapped))
  } finally {
    for (const t of wrapped) t.dispose()
  }
}

function requireInput(inputs: tf.NamedTensorInfoMap, name: string, kernel: string): tf.TensorInfo {
  const info = inputs[name]
  if (info == null) throw new Error(`${kernel}: input '${name}' is missing.`)
  if (info.shape.length !== 4) throw new Error(`${kernel}: input '${name}' must be rank 4, got shape [${info.shape}].`)
  return info
}

function requireUnitDilation(dilations: [number, number] | number | undefined, kernel: string): void {
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : (dilations ?? [1, 1])
  if (dh !== 1 || dw !== 1) {
    throw new Error(`${kernel} on WASM supports dilation 1 only, got [${dh}, ${dw}].`)
  }
}

function geometry(
  xShape: Shape4,
  filterShape: Shape4,
  strides: [number, number] | number,
  pad: Pad,
  roundingMode: RoundingMode,
  depthwise: boolean,
): Geometry {
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, roundingMode, depthwise)
  return {
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    outH: info.outHeight,
    outW: info.outWidth,
  }
}

/** Pads (positive amounts) or crops (negative amounts) one axis of a rank-4 tensor. */
function padOrCrop(t: tf.Tensor4D, axis: 1 | 2, before: number, after: number): tf.Tensor4D {
  let out = t
  const cropBefore = Math.max(0, -before)
  const cropAfter = Math.max(0, -after)
  if (cropBefore > 0 || cropAfter > 0) {
    const begin: Shape4 = [0, 0, 0, 0]
    const size: Shape4 = [-1, -1, -1, -1]
    begin[axis] = cropBefore
    size[axis] = out.shape[axis] - cropBefore - cropAfter
    out = tf.slice(out, begin, size)
  }
  const padBefore = Math.max(0, before)
  const padAfter = Math.max(0, after)
  if (padBefore > 0 || padAfter > 0) {
    const paddings: Array<[number, number]> = [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ]
    paddings[axis] = [padBefore, padAfter]
    out = tf.pad(out, paddings)
  }
  return out
}

/**
 * Calls `perTap` with the input window each filter tap (i, j) saw at every output position, shape [N, outH, outW, C],
 * taps in row-major order. The input is padded as the forward pass padded it, plus or minus whatever the bottom/right
 * needs so every strided slice is in range. Each tap runs in its own tidy so only one window is alive at a time: on
 * MobileNetV2's early layers a window is tens of MB and the WASM heap is capped at 4 GiB.
 */
function mapTaps(
  x: tf.Tensor4D,
  g: Geometry,
  kh: number,
  kw: number,
  perTap: (window: tf.Tensor4D) => tf.Tensor,
): tf.Tensor[] {
  const [n, h, w, c] = x.shape
  const spanH = (g.outH - 1) * g.strideH + kh
  const spanW = (g.outW - 1) * g.strideW + kw
  let padded = padOrCrop(x, 1, g.padTop, spanH - h - g.padTop)
  padded = padOrCrop(padded, 2, g.padLeft, spanW - w - g.padLeft)
  const results: tf.Tensor[] = []
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      results.push(
        tf.tidy(() => {
          const unit = g.strideH === 1 && g.strideW === 1
          const end: Shape4 = [n, i + (g.outH - 1) * g.strideH + 1, j + (g.outW - 1) * g.strideW + 1, c]
          const window = unit
            ? tf.slice(padded, [0, i, j, 0], [n, g.outH, g.outW, c])
            : (tf.stridedSlice(padded, [0, i, j, 0], end, [1, g.strideH, g.strideW, 1]) as tf.Tensor4D)
          return perTap(window)
        }),
      )
    }
  }
  return results
}

/** dFilter[i, j, ci, co] = Σ over n, oh, ow of xPadded[n, oh·s + i, ow·s + j, ci] · dy[n, oh, ow, co]. */
const conv2dBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const name = tf.Conv2DBackpropFilter
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs
  if (dataFormat === 'NCHW') {
    throw new Error(`${name} on WASM supports NHWC (channels-last) only; got NCHW.`)
  }
  const xInfo = requireInput(inputs, 'x', name)
  const dyInfo = requireInput(inputs, 'dy', name)
  const [kh, kw, cin, cout] = filterShape
  return withInputs(backend, [xInfo, dyInfo], (x, dy) => {
    const g = geometry(x.shape, filterShape, strides, pad, dimRoundingMode, false)
    const dy2d = tf.reshape(dy, [-1, cout]) as tf.Tensor2D
    const unpadded = g.padTop === 0 && g.padLeft === 0 && g.outH === x.shape[1] && g.outW === x.shape[2]
    if (kh === 1 && kw === 1 && g.strideH === 1 && g.strideW === 1 && unpadded) {
      // Pointwise conv: the whole gradient is one matmul.
      return tf.reshape(tf.matMul(tf.reshape(x, [-1, cin]) as tf.Tensor2D, dy2d, true, false), filterShape)
    }
    const perTap = mapTaps(x, g, kh, kw, (win) =>
      tf.matMul(tf.reshape(win, [-1, cin]) as tf.Tensor2D, dy2d, true, false),
    )
    return tf.reshape(tf.stack(perTap), filterShape)
  })
}

/** dFilter[i, j, c, m] = Σ over n, oh, ow of xPadded[n, oh·s + i, ow·s + j, c] · dy[n, oh, ow, c·M + m]. */
const depthwiseBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const name = tf.DepthwiseConv2dNativeBackpropFilter
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs
  requireUnitDilation(dilations, name)
  const xInfo = requireInput(inputs, 'x', name)
  const dyInfo = requireInput(inputs, 'dy', name)
  const [kh, kw, channels, multiplier] = filterShape
  return withInputs(backend, [xInfo, dyInfo], (x, dy) => {
    const g = geometry(x.shape, filterShape, strides, pad, dimRoundingMode, true)
    // With a channel multiplier M, output channel c·M + m pairs input channel c with filter[.., c, m].
    const dy5 = multiplier === 1 ? dy : tf.reshape(dy, [dy.shape[0], g.outH, g.outW, channels, multiplier])
    const perTap = mapTaps(x, g, kh, kw, (win) =>
      multiplier === 1 ? tf.sum(tf.mul(win, dy), [0, 1, 2]) : tf.sum(tf.mul(tf.expandDims(win, 4), dy5), [0, 1, 2]),
    )
    return tf.reshape(tf.stack(perTap), filterShape)
  })
}

/** Spreads dy on a stride-sized grid with zeros between the values (the transposed conv's input), [N, OH·sh, OW·sw, C]. */
function spreadByStride(dy: tf.Tensor4D, strideH: number, strideW: number): tf.Tensor4D {
  const [n, oh, ow, c] = dy.shape
  let out = dy
  if (strideH > 1) {
    const rows = tf.pad(tf.reshape(out, [n, oh, 1, ow * c]), [
      [0, 0],
      [0, 0],
      [0, strideH - 1],
      [0, 0],
    ])
    out = tf.reshape(rows, [n, oh * strideH, ow, c])
  }
  if (strideW > 1) {
    const cols = tf.pad(tf.reshape(out, [n * out.shape[1], ow, 1, c]), [
      [0, 0],
      [0, 0],
      [0, strideW - 1],
      [0, 0],
    ])
    out = tf.reshape(cols, [n, out.shape[1], ow * strideW, c])
  }
  return out
}

/**
 * dx is the transposed depthwise conv: spread dy by the stride, pad it so that tap i of the flipped filter lines up with
 * input row h, then run a stride-1 'valid' depthwise conv. Row h of dx gathers dy[oh]·filter[i] for h + padTop = oh·s + i,
 * so the spread dy needs (kh − 1 − padTop) zeros in front and whatever makes the output exactly inputShape behind.
 */
const depthwiseBackpropInput: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const name = tf.DepthwiseConv2dNativeBackpropInput
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs
  requireUnitDilation(dilations, name)
  const dyInfo = requireInput(inputs, 'dy', name)
  const filterInfo = requireInput(inputs, 'filter', name)
  return withInputs(backend, [dyInfo, filterInfo], (dy, filter) => {
    const [kh, kw, channels, multiplier] = filter.shape
    const [, h, w] = inputShape
    const g = geometry(inputShape, filter.shape, strides, pad, dimRoundingMode, true)
    const spread = spreadByStride(dy, g.strideH, g.strideW)
    const front = [kh - 1 - g.padTop, kw - 1 - g.padLeft]
    let padded = padOrCrop(spread, 1, front[0], h + kh - 1 - front[0] - spread.shape[1])
    padded = padOrCrop(padded, 2, front[1], w + kw - 1 - front[1] - spread.shape[2])
    // Output channel c·M + m of the forward pass used filter[.., c, m]: flattening (c, m) keeps that pairing.
    const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, channels * multiplier, 1]) as tf.Tensor4D
    const summed = tf.depthwiseConv2d(padded, flipped, 1, 'valid')
    if (multiplier === 1) return summed
    return tf.sum(tf.reshape(summed, [inputShape[0], h, w, channels, multiplier]), 4)
  })
}

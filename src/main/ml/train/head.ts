/** The new classifier head and its optimizer. */
import type { LayersModel, Optimizer } from '@tensorflow/tfjs'
import type { HeadConfig, HyperParams } from '../../../shared/types'
import { getTf } from '../backend'
import { rememberDropoutSeed } from './linear-head'

export const HEAD_PREFIX = 'tunewise_head_'

/**
 * Builds the head: [dropout → dense(units, relu)]* → dropout → dense(numClasses, softmax), initialisers seeded
 * from `seed` (He normal or Glorot uniform), l1/l2 kernel regularisers. Pure: returns an uncompiled model whose
 * layer names start with `tunewise_head_` so they never clash with base layers.
 */
export function buildHead(inputDim: number, numClasses: number, cfg: HeadConfig, seed: number): LayersModel {
  const tf = getTf()
  const model = tf.sequential({ name: 'tunewise_head' })
  const regularizer = cfg.l1 > 0 || cfg.l2 > 0 ? tf.regularizers.l1l2({ l1: cfg.l1, l2: cfg.l2 }) : undefined
  const init = (i: number) =>
    cfg.initializer === 'he'
      ? tf.initializers.heNormal({ seed: seed + i })
      : tf.initializers.glorotUniform({ seed: seed + i })
  const sizes = [...cfg.units, numClasses]
  sizes.forEach((units, i) => {
    const last = i === sizes.length - 1
    const inputShape = i === 0 ? { inputShape: [inputDim] } : {}
    if (cfg.dropout > 0) {
      const dropout = tf.layers.dropout({ rate: cfg.dropout, name: `${HEAD_PREFIX}dropout_${i}`, ...inputShape })
      seedDropout(dropout, (seed * 7919 + 1000 * (i + 1)) >>> 0)
      model.add(dropout)
    }
    model.add(
      tf.layers.dense({
        units,
        activation: last ? 'softmax' : 'relu',
        kernelInitializer: init(i),
        biasInitializer: 'zeros',
        kernelRegularizer: regularizer,
        name: last ? `${HEAD_PREFIX}output` : `${HEAD_PREFIX}dense_${i}`,
        ...(cfg.dropout > 0 ? {} : inputShape),
      }),
    )
  })
  return model
}

type Layer = LayersModel['layers'][number]

/**
 * Makes a Dropout layer's masks reproducible yet different per batch: TF.js' `seed` option alone would reuse
 * one mask for every batch, so the seed advances on each training call.
 */
export function seedDropout(layer: Layer, seed: number): void {
  rememberDropoutSeed(layer, seed)
  const original = layer.call.bind(layer)
  const state = layer as unknown as { seed?: number }
  let calls = 0
  layer.call = ((inputs, kwargs) => {
    if (kwargs?.training) state.seed = (seed + calls++) >>> 0
    return original(inputs, kwargs)
  }) as Layer['call']
}

/** The optimizer named in `hyper`, at `learningRate` (defaults to hyper.learningRate). */
export function makeOptimizer(hyper: HyperParams, learningRate = hyper.learningRate): Optimizer {
  const tf = getTf()
  switch (hyper.optimizer) {
    case 'sgd':
      return tf.train.sgd(learningRate)
    case 'momentum':
      return tf.train.momentum(learningRate, hyper.momentum)
    case 'adam':
      return tf.train.adam(learningRate)
    case 'rmsprop':
      return tf.train.rmsprop(learningRate, 0.9, hyper.momentum)
    case 'adagrad':
      return tf.train.adagrad(learningRate)
  }
}

/** Changes an optimizer's learning rate in place (SGD and momentum cache it as a tensor). */
export function setLearningRate(optimizer: Optimizer, lr: number): void {
  const o = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number }
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr)
  else o.learningRate = lr
}

/** Disposes an optimizer's state; TF.js' momentum optimizer forgets the learning-rate scalar SGD keeps. */
export function disposeOptimizer(optimizer: Optimizer): void {
  optimizer.dispose()
  const c = (optimizer as unknown as { c?: { isDisposed: boolean; dispose(): void } }).c
  if (c && !c.isDisposed) c.dispose()
}

/** Compiles with categorical cross-entropy and accuracy; returns the optimizer so schedules can change it. */
export function compileHead(model: LayersModel, hyper: HyperParams, learningRate = hyper.learningRate): Optimizer {
  const optimizer = makeOptimizer(hyper, learningRate)
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
  return optimizer
}

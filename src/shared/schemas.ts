/** zod schemas for payloads that cross a process boundary. Pure TypeScript + zod. */
import { z } from 'zod'

const finite = z.number().finite()
const fraction = finite.min(0).max(1)

export const splitRatiosSchema = z
  .strictObject({
    train: fraction,
    val: fraction,
    test: fraction,
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
  })
  .refine((r) => Math.abs(r.train + r.val + r.test - 1) < 1e-6, {
    message: 'Train, validation and test must add up to 100%.',
  })
  .refine((r) => r.train > 0, { message: 'The training share must be above 0%.' })

export const headConfigSchema = z.strictObject({
  units: z.array(z.number().int().min(1).max(4096)).max(4),
  dropout: finite.min(0).max(0.9),
  initializer: z.enum(['he', 'glorot']),
  l1: finite.min(0).max(1),
  l2: finite.min(0).max(1),
})

export const freezeConfigSchema = z.strictObject({
  preset: z.enum(['feature-extraction', 'top-blocks', 'full', 'custom']),
  topBlocks: z.number().int().min(0).max(100),
  trainableLayers: z.array(z.string().max(200)).max(2000),
})

export const hyperParamsSchema = z.strictObject({
  optimizer: z.enum(['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad']),
  learningRate: finite.gt(0).max(10),
  momentum: finite.min(0).max(0.999),
  schedule: z.strictObject({
    kind: z.enum(['constant', 'step', 'cosine', 'plateau']),
    stepEvery: z.number().int().min(1).max(1000),
    gamma: finite.gt(0).max(1),
    patience: z.number().int().min(1).max(1000),
  }),
  batchSize: z.number().int().min(1).max(512),
  epochs: z.number().int().min(1).max(1000),
  earlyStopping: z.strictObject({
    enabled: z.boolean(),
    patience: z.number().int().min(1).max(1000),
    restoreBest: z.boolean(),
  }),
  classWeights: z.enum(['none', 'auto']),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
})

export const runConfigSchema = z.strictObject({
  name: z.string().min(1).max(200),
  modelId: z.string().min(1).max(200),
  datasetId: z.string().min(1).max(200),
  split: splitRatiosSchema,
  freeze: freezeConfigSchema,
  head: headConfigSchema,
  hyper: hyperParamsSchema,
  phase2: z.strictObject({
    enabled: z.boolean(),
    lrFactor: finite.gt(0).max(1),
    epochs: z.number().int().min(1).max(1000),
  }),
  augment: z.strictObject({
    enabled: z.boolean(),
    flip: z.boolean(),
    crop: z.boolean(),
    rotate: z.boolean(),
    brightness: z.boolean(),
  }),
})

import { Field, Float, InputType, Int, registerEnumType } from 'type-graphql';
import { Decoding, JobStatus } from './job.types.js';
import { WebhookInput } from './webhook.types.js';

/** Knobs shared by every job kind; absent fields take the model's defaults (inherited by each input). */
@InputType('JobOptionsInput')
class SamplingInput {
  @Field(() => String, { nullable: true, description: 'Model id; the server default when absent' })
  model?: string;

  @Field(() => Int, {
    nullable: true,
    description: 'Images to make, 1 … 16; image i uses seed + i. Default 1',
  })
  count?: number;

  @Field(() => Int, {
    nullable: true,
    description:
      'Seed of image 0, 0 … 2^31 − count (image i uses seed + i, an Int too); random (and reported) when absent',
  })
  seed?: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Classifier-free guidance scale, 1 … 20 (1 = off)',
  })
  cfgScale?: number;

  @Field(() => Float, { nullable: true, description: 'Softmax temperature, 0 … 10 (0 = greedy)' })
  temperature?: number;

  @Field(() => Int, { nullable: true, description: 'Keep the k most likely tokens (0 = off)' })
  topK?: number;

  @Field(() => Float, { nullable: true, description: 'Nucleus mass in (0, 1] (1 = off)' })
  topP?: number;

  @Field(() => Decoding, {
    nullable: true,
    description: 'AR (default) or SPECULATIVE: fewer GPT calls, the same distribution',
  })
  decoding?: Decoding;

  @Field(() => Int, { nullable: true, description: 'Higher runs first, −10 … 10. Default 0' })
  priority?: number;

  @Field(() => String, {
    nullable: true,
    description:
      'The same key (per tenant) with the same input returns the same job; with another input, CONFLICT',
  })
  idempotencyKey?: string;

  @Field(() => Int, {
    nullable: true,
    description:
      "Hours the job is kept after it finishes, 1 … the server's retention (HITA_RETENTION_HOURS); then it is deleted with its images. Default: the server's retention",
  })
  retentionHours?: number;

  @Field(() => WebhookInput, {
    nullable: true,
    description: "POST the job's events to this URL (Standard Webhooks, signed with webhookSecret)",
  })
  webhook?: WebhookInput;
  @Field(() => Boolean, {
    nullable: true,
    description:
      "Stream live previews of the partial images in jobUpdated's events (JobEvent.previews); never stored, never a change to the images. Default false",
  })
  preview?: boolean;
}

@InputType()
export class GenerateInput extends SamplingInput {
  @Field(() => Int, { nullable: true, description: 'Class id; give it or className' })
  classId?: number;

  @Field(() => String, {
    nullable: true,
    description: 'Class name (case-insensitive); give it or classId',
  })
  className?: string;
}

@InputType()
export class InpaintInput extends SamplingInput {
  @Field(() => String, { description: 'Object key of the image (an upload or a previous output)' })
  imageKey!: string;

  @Field(() => String, {
    description: 'Object key of the mask: white = regenerate, same size as the image',
  })
  maskKey!: string;

  @Field(() => Int, {
    nullable: true,
    description: 'Class guiding the new content; unconditional when absent',
  })
  classId?: number;

  @Field(() => String, { nullable: true })
  className?: string;

  @Field(() => Boolean, {
    nullable: true,
    description: "Keep the image's holistic tokens (default true)",
  })
  keepHolistic?: boolean;

  @Field(() => Boolean, {
    nullable: true,
    description: 'Paste the original pixels back outside the mask (default true)',
  })
  composite?: boolean;
}

export enum StyleMode {
  SWAP = 'swap',
  REGENERATE = 'regenerate',
}
registerEnumType(StyleMode, {
  name: 'StyleMode',
  description:
    "SWAP: the style's holistic tokens with the content's patch tokens; REGENERATE: resample patches after them",
});

@InputType()
export class StyleTransferInput extends SamplingInput {
  @Field(() => String)
  contentKey!: string;

  @Field(() => String)
  styleKey!: string;

  @Field(() => StyleMode, { nullable: true, description: 'Default SWAP' })
  mode?: StyleMode;

  @Field(() => Float, {
    nullable: true,
    description: 'REGENERATE: share of content patch tokens resampled, 0 … 1 (default 0.5)',
  })
  strength?: number;

  @Field(() => Int, { nullable: true })
  classId?: number;

  @Field(() => String, { nullable: true })
  className?: string;
}

@InputType()
export class JobFilter {
  @Field(() => [JobStatus], { nullable: true })
  status?: JobStatus[];

  @Field(() => [String], { nullable: true, description: 'GENERATE, INPAINT, STYLE_TRANSFER' })
  kind?: string[];
}

@InputType()
export class CreateUploadInput {
  @Field(() => String, { description: 'image/png, image/jpeg or image/webp' })
  contentType!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Original file name, at most 255 bytes of UTF-8; checked, not stored',
  })
  filename?: string;
}

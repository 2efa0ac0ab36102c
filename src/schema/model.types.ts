import { Field, Float, Int, ObjectType } from 'type-graphql';
import { COSTS } from './costs.js';

@ObjectType()
export class ModelClass {
  @Field(() => Int)
  id!: number;

  @Field(() => String)
  name!: string;
}

@ObjectType()
export class ModelCapabilities {
  @Field(() => Boolean)
  generate!: boolean;

  @Field(() => Boolean)
  inpaint!: boolean;

  @Field(() => Boolean)
  styleTransfer!: boolean;
}

@ObjectType()
export class SamplingDefaults {
  @Field(() => Float)
  cfgScale!: number;

  @Field(() => Float)
  temperature!: number;

  @Field(() => Int)
  topK!: number;

  @Field(() => Float)
  topP!: number;
}

@ObjectType()
export class Model {
  @Field(() => String)
  id!: string;

  @Field(() => String)
  description!: string;

  @Field(() => Boolean)
  isDefault!: boolean;

  @Field(() => Int)
  imageSize!: number;

  @Field(() => Int)
  holisticTokens!: number;

  @Field(() => Int)
  patchTokens!: number;

  @Field(() => [ModelClass], { complexity: COSTS.classes })
  classes!: ModelClass[];

  @Field(() => ModelCapabilities)
  capabilities!: ModelCapabilities;

  @Field(() => SamplingDefaults)
  defaults!: SamplingDefaults;

  @Field(() => String)
  license!: string;

  @Field(() => [String], {
    complexity: COSTS.precisions,
    description:
      'GPT precisions this model has graphs for (fp32 first, then int8, int4); a worker runs the one HITA_PRECISION names, or fp32 when the model lacks it',
  })
  precisions!: string[];
}

import { Field, Float, Int, ObjectType } from 'type-graphql';

@ObjectType()
export class QueueInfo {
  @Field(() => Int, { description: 'Jobs waiting' })
  depth!: number;

  @Field(() => Int)
  running!: number;

  @Field(() => Int, {
    description:
      'Live workers of the whole cluster (every hita serve and hita worker on this queue), from their announces',
  })
  workers!: number;

  @Field(() => Int, { description: 'Rows in the running batches of this server' })
  batchRows!: number;

  @Field(() => Float, {
    nullable: true,
    description:
      'Images per second over the live workers of the whole cluster: each measures its own, ' +
      'exponentially averaged over its busy time (time constant 30 s). Null until one has',
  })
  imagesPerSecond!: number | null;
}

@ObjectType()
export class Upload {
  @Field(() => String, { description: 'Reference it as imageKey, maskKey, contentKey or styleKey' })
  key!: string;

  @Field(() => String, { description: 'PUT the file bytes here before it expires' })
  url!: string;

  @Field(() => String)
  method!: string;

  @Field(() => Date)
  expiresAt!: Date;

  @Field(() => Int, { description: 'Largest accepted file, bytes' })
  maxBytes!: number;
}

@ObjectType()
export class Health {
  @Field(() => Boolean)
  ok!: boolean;

  @Field(() => String)
  queue!: string;

  @Field(() => String)
  storage!: string;

  @Field(() => Int)
  workers!: number;
}

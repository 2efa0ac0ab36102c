import { Field, ID, ObjectType } from 'type-graphql';

/** The answer of `deleteJob`: the job, its events and its objects are gone. */
@ObjectType({ description: 'What deleteJob removed' })
export class DeleteJobPayload {
  @Field(() => ID, { description: 'The id of the job that no longer exists' })
  deletedId!: string;
}

import { Field, ID, InterfaceType } from 'type-graphql';

/**
 * Relay's global object identification (https://relay.dev/graphql/objectidentification.htm):
 * any object with an `id` can be fetched again through `Query.node(id)`. Job is the only Node
 * today, so a Node's id is its job's id; a second Node type would need ids that say their type.
 */
@InterfaceType({ description: 'An object that can be fetched again by its id through node(id)' })
export abstract class Node {
  @Field(() => ID, { description: 'Unique among all Node objects' })
  id!: string;
}

/**
 * The demo's typed `graphql()` tag (gql.tada): each document's result and variables types are
 * inferred from its text against `graphql-env.d.ts`, the introspection of `schema.graphql` that
 * `npm run codegen:web` writes (test/contract/web-codegen.test.ts fails when the committed copy
 * differs from what the schema gives). The printer is the parser's own (@0no-co/graphql.web, which
 * gql.tada bundles anyway) rather than graphql-js's, a third of the bundle's size.
 */
import { print } from '@0no-co/graphql.web';
import { initGraphQLTada, type DocumentDecoration, type TadaDocumentNode } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

/**
 * Parses a document at load time and types it. Masking is off: the page reads a fragment's fields
 * where the operation spreads it, and the fragments exist to share selections, not to hide them.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTimeISO: string };
  disableMasking: true;
}>();

/** A document's text as sent over HTTP and graphql-ws, still typed with its result and variables. */
export type Operation<Result, Variables> = string & DocumentDecoration<Result, Variables>;

/** Prints a document, its fragments included, into the text the server receives. */
export function operation<Result, Variables>(
  document: TadaDocumentNode<Result, Variables>,
): Operation<Result, Variables> {
  return print(document) as Operation<Result, Variables>;
}

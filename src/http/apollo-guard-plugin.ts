/**
 * The operation guard on Apollo's HTTP path: admission after validation and before execution,
 * with the refusal's HTTP status (429 and Retry-After for RATE_LIMITED), and `extensions.cost`
 * on every response.
 */
import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { errors, httpStatusOf, isAppError, type AppError } from '../errors.js';
import type { CostReport } from '../guard/cost-rate-limiter.js';
import type { OperationGuard } from '../guard/operation-guard.js';
import type { RequestContext } from '../resolvers/context.js';

/** An AppError as Apollo needs it to refuse a whole request: the status (and headers) it maps to. */
export function toHttpGraphQLError(error: AppError): GraphQLError {
  const headers = new HeaderMap();
  const retryAfter = error.details?.retryAfterSeconds;
  if (typeof retryAfter === 'number') headers.set('retry-after', String(retryAfter));
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: { code: error.code, http: { status: httpStatusOf(error.code), headers } },
  });
}

export function apolloGuardPlugin(guard: OperationGuard): ApolloServerPlugin<RequestContext> {
  return {
    requestDidStart() {
      let cost: CostReport | null = null;
      return Promise.resolve({
        async didResolveOperation({ document, operationName, operation, request, contextValue }) {
          if (operation?.operation === 'subscription') {
            throw toHttpGraphQLError(
              errors.badRequest(
                'subscriptions run over WebSocket (graphql-ws) at /graphql or Server-Sent Events at /graphql/stream, not over HTTP POST',
              ),
            );
          }
          try {
            const admission = await guard.admit({
              document,
              operationName: operationName ?? undefined,
              variables: request.variables ?? {},
              tenant: contextValue.tenant,
            });
            cost = admission.cost;
            // Several jobs in one operation: all of them or none (JobBatch).
            if (admission.jobCreatingFields > 1)
              contextValue.jobBatch = contextValue.services.jobs.openBatch();
          } catch (error) {
            throw isAppError(error) ? toHttpGraphQLError(error) : error;
          }
        },
        async willSendResponse({ response, contextValue }) {
          const failed =
            response.body.kind !== 'single' || Boolean(response.body.singleResult.errors?.length);
          await contextValue.jobBatch?.settle(failed);
          if (response.body.kind !== 'single') return;
          cost ??= await guard.standing(contextValue.tenant);
          const result = response.body.singleResult;
          result.extensions = { ...result.extensions, cost };
        },
      });
    },
  };
}

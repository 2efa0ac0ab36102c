import { createHmac } from 'node:crypto';

/**
 * A tenant's Standard Webhooks secret: `whsec_` + base64(HMAC-SHA256(HITA_WEBHOOK_SECRET,
 * tenant)). Each tenant gets its own (Query.webhookSecret), so no tenant can sign, and so forge,
 * another's webhooks; the server derives them again at each delivery instead of storing them.
 */
export function tenantWebhookSecret(masterSecret: string, tenant: string): string {
  return `whsec_${createHmac('sha256', masterSecret).update(tenant, 'utf8').digest('base64')}`;
}

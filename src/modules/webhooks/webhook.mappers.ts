import type { Connection, Edge } from '../../pagination/connection.js';
import type { DeliveryWithType } from './webhook.repository.js';
import type { WebhookEndpointRow } from './webhook.table.js';

/** Parent types of the webhook resolvers (codegen mappers). */
export type WebhookEndpointModel = WebhookEndpointRow;
export type WebhookDeliveryModel = DeliveryWithType;
export type WebhookEndpointConnectionModel = Connection<WebhookEndpointRow>;
export type WebhookEndpointEdgeModel = Edge<WebhookEndpointRow>;
export type WebhookDeliveryConnectionModel = Connection<DeliveryWithType>;
export type WebhookDeliveryEdgeModel = Edge<DeliveryWithType>;

import { Model } from 'objection';

// The order tables (db/migrations/20261125000400_orders.ts).

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'REJECTED' | 'CANCELLED';

export interface Rejection {
  reason: string;
  items: { product_id: number; requested: number; available: number }[];
}

export class Order extends Model {
  static override tableName = 'orders';

  declare id: number;
  declare user_id: number;
  declare store_id: number;
  declare status: OrderStatus;
  declare rejection: Rejection | null;
  declare idempotency_key: string | null;
  declare request_fingerprint: string | null;
  declare created_at: Date;
  declare decided_at: Date | null;
  declare cancelled_at: Date | null;
  declare lines?: OrderLine[];

  static override relationMappings = () => ({
    lines: {
      relation: Model.HasManyRelation,
      modelClass: OrderLine,
      join: { from: 'orders.id', to: 'order_lines.order_id' },
    },
  });
}

export class OrderLine extends Model {
  static override tableName = 'order_lines';

  declare id: number;
  declare order_id: number;
  declare product_id: number;
  declare quantity_requested: number;
  declare unit_price: string; // numeric(12,2) as a decimal string, on purpose
}
